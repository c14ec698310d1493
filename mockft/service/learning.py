"""What a fine-tuned model learned: the replies of its training file, fixed when the job's
models are created.

The prompt -> reply pairs are stored as a blob keyed by the job's id (a job's final model and
its checkpoint models learned the same thing), so a model answers the same after its training
file is deleted, after a restart, and with ``--memory``. The start-up sweep keeps the blobs
of live jobs (``Service.sweep``).

A prompt nobody trained gets the reply of the most alike trained prompt (``Memory.recall``:
the most words in common for the words of both), so a fine-tuned model answers in the form
it was trained on, as real fine-tunes do (the cookbook's classifier answers an unseen tweet
" hockey", its recipe model an unseen recipe with a JSON list); one with no word in common
with any trained prompt gets synthetic text.

A reply is text, or a call the model learned to make: an assistant message with
``tool_calls`` or a legacy ``function_call`` and no text is kept as ``{"name", "arguments"}``
(instructor's distillation writes such examples)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from mockft.service.context import Context
from mockft.validation import lines

Reply = str | dict[str, str]  # text, or a learned call: {"name": ..., "arguments": ...}
_WORD: Final = re.compile(r"\w+")
MAX_RECALLED: Final = 20_000  # trained prompts compared with an unseen one (the first ones)


def words(text: str) -> frozenset[str]:
    return frozenset(word.lower() for word in _WORD.findall(text))


@dataclass
class Memory:
    """What a job's models learned, ready to answer: exact prompts, and the words of the
    first ``MAX_RECALLED`` prompts for those nobody trained."""

    replies: dict[str, Reply]
    _index: list[tuple[frozenset[str], Reply]] | None = field(default=None, repr=False)

    def recall(self, prompt: str) -> Reply | None:
        """The trained reply of ``prompt``, or of the trained prompt most like it (Jaccard
        similarity of their words; the first of equals); None if none shares a word."""
        exact = self.replies.get(prompt)
        if exact is not None or not self.replies:
            return exact
        if self._index is None:
            first = list(self.replies.items())[:MAX_RECALLED]
            self._index = [(words(known), reply) for known, reply in first]
        asked = words(prompt)
        best: Reply | None = None
        best_score = 0.0
        for known, reply in self._index:
            common = len(asked & known)
            if common and common / len(asked | known) > best_score:
                best, best_score = reply, common / len(asked | known)
        return best


def learn(ctx: Context, job_id: str, training_file: str, parent: str | None = None) -> None:
    """Store what the models of ``job_id`` learned from ``training_file`` (idempotent: the
    first call fixes it; a training file already gone teaches nothing). A job that continued
    the model of the job ``parent`` also knows what that model learned; where both taught a
    prompt, the newer training wins."""
    if ctx.blobs.size(job_id) is not None:
        return
    found = ctx.blobs.size(training_file) is not None
    replies = replies_of(ctx.blobs.read(training_file)) if found else {}
    inherited = learned(ctx, parent) if parent is not None else None
    for prompt, reply in (inherited or {}).items():
        replies.setdefault(prompt, reply)
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
