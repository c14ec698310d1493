"""What a fine-tuned model learned: the replies of its training file, fixed when the job's
models are created.

The prompt -> reply pairs are stored as a blob keyed by the job's id (a job's final model and
its checkpoint models learned the same thing), so a model answers the same after its training
file is deleted, after a restart, and with ``--memory``. The start-up sweep keeps the blobs
of live jobs (``Service.sweep``).

A reply is text, or a call the model learned to make: an assistant message with
``tool_calls`` or a legacy ``function_call`` and no text is kept as ``{"name", "arguments"}``
(instructor's distillation writes such examples)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from mockft.service.context import Context
from mockft.validation import lines

Reply = str | dict[str, str]  # text, or a learned call: {"name": ..., "arguments": ...}


def learn(ctx: Context, job_id: str, training_file: str) -> None:
    """Store what the models of ``job_id`` learned from ``training_file`` (idempotent: the
    first call fixes it; a training file already gone teaches nothing)."""
    if ctx.blobs.size(job_id) is not None:
        return
    found = ctx.blobs.size(training_file) is not None
    replies = replies_of(ctx.blobs.read(training_file)) if found else {}
    writer = ctx.blobs.writer(job_id)
    try:
        writer.write(orjson.dumps(replies))
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def learned(ctx: Context, job_id: str) -> dict[str, Reply] | None:
    """What the models of ``job_id`` learned; None if it was never stored."""
    if ctx.blobs.size(job_id) is None:
        return None
    replies: dict[str, Reply] = orjson.loads(b"".join(ctx.blobs.read(job_id)))
    return replies


def replies_of(chunks: Iterable[bytes]) -> dict[str, Reply]:
    """Prompt -> trained reply: a prompt/completion example's pair, and in a chat example
    each assistant reply (text, or else the call it makes) after the user message before
    it (the first reply wins)."""
    replies: dict[str, Reply] = {}
    for line in lines(chunks):
        if line is None:  # longer than any training example may be
            continue
        try:
            example = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(example, dict):
            continue
        prompt, completion = example.get("prompt"), example.get("completion")
        if isinstance(prompt, str) and isinstance(completion, str):
            replies.setdefault(prompt, completion)
            continue
        messages = example.get("messages")
        if not isinstance(messages, list):
            continue
        user = None
        for message in messages:
            if not isinstance(message, dict):
                continue
            if message.get("role") == "user":
                user = message_text(message)
            elif message.get("role") == "assistant" and user is not None:
                reply: Reply | None = message_text(message) or call_of(message)
                if reply:
                    replies.setdefault(user, reply)
    return replies


def call_of(message: dict[str, Any]) -> dict[str, str] | None:
    """The call an assistant message makes (its first tool call, or its legacy
    ``function_call``) as ``{"name", "arguments"}``; None if it makes none."""
    calls = message.get("tool_calls")
    first = calls[0] if isinstance(calls, list) and calls else None
    function = first.get("function") if isinstance(first, dict) else message.get("function_call")
    if not isinstance(function, dict):
        return None
    name, arguments = function.get("name"), function.get("arguments")
    if isinstance(name, str) and isinstance(arguments, str):
        return {"name": name, "arguments": arguments}
    return None


def message_text(message: dict[str, Any]) -> str:
    """A message's text: its content string, or its text parts joined."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
