"""Calling models: chat and legacy completions with deterministic synthetic output.

A fine-tuned model answers a prompt it was trained on with the trained reply (the last
user message, or the prompt, matched exactly); anything else gets seeded Faker text.
The same model, messages and `seed` always give the same answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mockft import errors, synth, tokens
from mockft.auth import Organization
from mockft.schemas import (
    OTHER_CHAT_PARAMETERS,
    OTHER_COMPLETION_PARAMETERS,
    CreateChatCompletion,
    CreateCompletion,
    Sampling,
)
from mockft.service.context import Context, Part
from mockft.service.jobs import JOB
from mockft.service.models import MODEL
from mockft.validation import lines

CHAT_PREFIX = "chatcmpl-"
COMPLETION_PREFIX = "cmpl-"
COMPLETION_ID_LENGTH = 29
SERVICE_TIER = "default"
TRAINED_REPLIES_CACHE_SIZE = 64


@dataclass(frozen=True)
class Choice:
    text: str
    finish_reason: str


@dataclass(frozen=True)
class Answer:
    """One call's result, serialised by the route as a body or as a stream of chunks."""

    id: str
    created: int
    model: str
    choices: tuple[Choice, ...]
    prompt_tokens: int
    completion_tokens: int
    include_usage: bool

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


class Inference(Part):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._replies: dict[str, dict[str, str]] = {}

    def clear(self) -> None:
        self._replies.clear()

    def chat(self, org: Organization, request: CreateChatCompletion) -> Answer:
        _reject_unknown(request, OTHER_CHAT_PARAMETERS + ["max_completion_tokens", "messages"])
        training_file = self._callable(org, request.model)
        messages = [m.model_dump(exclude_none=True) for m in request.messages]
        last_user = next((_text(m) for m in reversed(messages) if m["role"] == "user"), "")
        limit = request.max_completion_tokens or request.max_tokens
        return self._answer(
            CHAT_PREFIX,
            request,
            prompt=last_user,
            training_file=training_file,
            prompt_tokens=tokens.count_messages(messages),
            limit=limit,
            key=json.dumps(messages, sort_keys=True),
        )

    def complete(self, org: Organization, request: CreateCompletion) -> Answer:
        _reject_unknown(request, OTHER_COMPLETION_PARAMETERS + ["prompt"])
        training_file = self._callable(org, request.model)
        prompt = request.prompt if isinstance(request.prompt, str) else "".join(request.prompt)
        return self._answer(
            COMPLETION_PREFIX,
            request,
            prompt=prompt,
            training_file=training_file,
            prompt_tokens=tokens.count_text(prompt),
            limit=request.max_tokens,
            key=prompt,
        )

    def _callable(self, org: Organization, model: str) -> str | None:
        """The model's training file for a fine-tuned model (None for a base model)."""
        if self.catalog.get(model) is not None:
            return None
        tuned = self.store.get(MODEL, model, org.id, self.now())
        if tuned is None:
            raise errors.APIError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        job = self.store.get(JOB, tuned["job_id"], org.id, self.now())
        return None if job is None else str(job["training_file"])

    def _answer(
        self,
        prefix: str,
        request: Sampling,
        *,
        prompt: str,
        training_file: str | None,
        prompt_tokens: int,
        limit: int | None,
        key: str,
    ) -> Answer:
        trained = self._trained_replies(training_file).get(prompt) if training_file else None
        choices = []
        for index in range(request.n or 1):
            text = trained or synth.reply_text(request.model, key, request.seed, index)
            choices.append(_cut(text, limit))
        sequence = self.store.next_sequence("ids")
        return Answer(
            id=synth.make_id(prefix, self.settings.seed, sequence, length=COMPLETION_ID_LENGTH),
            created=self.now(),
            model=request.model,
            choices=tuple(choices),
            prompt_tokens=prompt_tokens,
            completion_tokens=sum(tokens.count_text(c.text) for c in choices),
            include_usage=bool((request.stream_options or {}).get("include_usage")),
        )

    def _trained_replies(self, file_id: str) -> dict[str, str]:
        """Prompt -> trained reply, read once per training file (files never change)."""
        if file_id not in self._replies:
            if self.blobs.size(file_id) is None:
                return {}
            if len(self._replies) >= TRAINED_REPLIES_CACHE_SIZE:
                self._replies.pop(next(iter(self._replies)))
            self._replies[file_id] = _replies(self.blobs.read(file_id))
        return self._replies[file_id]


def _replies(chunks: Iterator[bytes]) -> dict[str, str]:
    replies: dict[str, str] = {}
    for line in lines(chunks):
        if line is None:  # longer than any training example may be
            continue
        try:
            example = json.loads(line)
        except ValueError:
            continue
        if not isinstance(example, dict):
            continue
        if isinstance(example.get("prompt"), str) and isinstance(example.get("completion"), str):
            replies.setdefault(example["prompt"], example["completion"])
            continue
        messages = example.get("messages")
        if not isinstance(messages, list):
            continue
        user = None
        for message in messages:
            if not isinstance(message, dict):
                continue
            if message.get("role") == "user":
                user = _text(message)
            elif message.get("role") == "assistant" and user is not None:
                reply = _text(message)
                if reply:
                    replies.setdefault(user, reply)
    return replies


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _cut(text: str, limit: int | None) -> Choice:
    if limit is None or tokens.count_text(text) <= limit:
        return Choice(text, "stop")
    words = text.split(" ")
    while words and tokens.count_text(" ".join(words)) > limit:
        words.pop()
    return Choice(" ".join(words), "length")


def _reject_unknown(request: Sampling, allowed: list[str]) -> None:
    for name in request.model_extra or {}:
        if name not in allowed:
            raise errors.unknown_param(name)


def stream_pieces(text: str) -> Iterator[str]:
    """The reply in the pieces a stream sends: a word (with its leading space) at a time."""
    for index, word in enumerate(text.split(" ")):
        yield word if index == 0 else " " + word
