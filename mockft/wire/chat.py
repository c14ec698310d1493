"""Chat and legacy completions as the API writes them: bodies, stream chunks, usage and log
probabilities.

Shapes and field order follow OpenAI's OpenAPI description and recorded streams: a chat
stream opens with the role (``"logprobs": {"content": [], "refusal": null}`` when log
probabilities were asked for), sends the reply a token at a time (tokens that end inside a
character wait for the rest of it), closes each choice with its ``finish_reason`` and
``"logprobs": null``, then the usage chunk if ``stream_options.include_usage``. Legacy
completions carry ``tokens``, ``token_logprobs``, ``top_logprobs`` and ``text_offset``.
Every answer names its model in ``openai-model`` and carries ``x-ratelimit-*`` headers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

from mockft import logprobs, ratelimits, synth
from mockft.service.inference import SERVICE_TIER, Answer, Choice

OPENAI_MODEL: Final = "openai-model"
CHAT_OBJECT: Final = "chat.completion"
CHUNK_OBJECT: Final = "chat.completion.chunk"
COMPLETION_OBJECT: Final = "text_completion"
ASSISTANT: Final = "assistant"


def usage(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def headers(answer: Answer) -> dict[str, str]:
    """The headers of an answer, JSON or stream: the model that answered (`openai-model`,
    the body's `model`) and the model's rate limits after this call."""
    return {OPENAI_MODEL: answer.model, **ratelimits.headers(answer.limits, answer.total_tokens)}


# -- chat ---------------------------------------------------------------------------------


def chat_body(answer: Answer) -> dict[str, Any]:
    return {
        "id": answer.id,
        "object": CHAT_OBJECT,
        "created": answer.created,
        "model": answer.model,
        "choices": [
            {
                "index": index,
                "message": _message(choice),
                "logprobs": _chat_logprobs(choice.logprobs),
                "finish_reason": choice.finish_reason,
            }
            for index, choice in enumerate(answer.choices)
        ],
        "usage": usage(answer),
        "service_tier": SERVICE_TIER,
        "system_fingerprint": synth.system_fingerprint(answer.model),
    }


def _message(choice: Choice) -> dict[str, Any]:
    """An answer's message: its text, or (content null) the tool call that answers, in the
    shape of ruby-openai's `gpt-3_5-turbo_valid_tool_call_chat` cassette (2024-03-26)."""
    if choice.tool_call is None:
        return {"role": ASSISTANT, "content": choice.text, "refusal": None, "annotations": []}
    call = choice.tool_call
    return {
        "role": ASSISTANT,
        "content": None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": choice.text},
            }
        ],
        "refusal": None,
        "annotations": [],
    }


def chat_chunks(answer: Answer) -> Iterator[dict[str, Any]]:
    """The chunks of a streamed chat completion, in order (without the closing [DONE])."""
    fingerprint = synth.system_fingerprint(answer.model)

    def chunk(index: int, delta: dict[str, Any], logprob: Any, finish: str | None) -> Any:
        return {
            "id": answer.id,
            "object": CHUNK_OBJECT,
            "created": answer.created,
            "model": answer.model,
            "service_tier": SERVICE_TIER,
            "system_fingerprint": fingerprint,
            "choices": [
                {"index": index, "delta": delta, "logprobs": logprob, "finish_reason": finish}
            ],
        }

    for index, choice in enumerate(answer.choices):
        asked = choice.logprobs is not None
        opening = _chat_logprobs(()) if asked else None
        call = choice.tool_call
        if call is None:
            first: dict[str, Any] = {"role": ASSISTANT, "content": "", "refusal": None}
        else:  # the call's id and name first, then its arguments piece by piece
            function = {"name": call.name, "arguments": ""}
            opened = {"index": 0, "id": call.id, "type": "function", "function": function}
            first = {"role": ASSISTANT, "content": None, "tool_calls": [opened], "refusal": None}
        yield chunk(index, first, opening, None)
        for text, start, end in text_pieces(choice.tokens):
            found = _chat_logprobs(choice.logprobs[start:end]) if choice.logprobs else None
            delta: dict[str, Any] = {"content": text}
            if call is not None:
                delta = {"tool_calls": [{"index": 0, "function": {"arguments": text}}]}
            yield chunk(index, delta, found, None)
        yield chunk(index, {}, None, choice.finish_reason)
    if answer.include_usage:
        yield {
            "id": answer.id,
            "object": CHUNK_OBJECT,
            "created": answer.created,
            "model": answer.model,
            "choices": [],
            "usage": usage(answer),
        }


def _chat_logprobs(found: Sequence[logprobs.TokenLogprob] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {"content": [_token(entry) for entry in found], "refusal": None}


def _token(entry: logprobs.TokenLogprob) -> dict[str, Any]:
    return {
        "token": logprobs.token_text(entry.token),
        "logprob": entry.logprob,
        "bytes": list(entry.token),
        "top_logprobs": [
            {
                "token": logprobs.token_text(candidate.token),
                "logprob": candidate.logprob,
                "bytes": list(candidate.token),
            }
            for candidate in entry.top
        ],
    }


# -- legacy completions -------------------------------------------------------------------


def completion_body(answer: Answer) -> dict[str, Any]:
    return {
        "id": answer.id,
        "object": COMPLETION_OBJECT,
        "created": answer.created,
        "model": answer.model,
        "choices": [
            {
                "text": choice.text,
                "index": index,
                "logprobs": _completion_logprobs(choice, 0, len(choice.tokens), answer),
                "finish_reason": choice.finish_reason,
            }
            for index, choice in enumerate(answer.choices)
        ],
        "usage": usage(answer),
        "system_fingerprint": synth.system_fingerprint(answer.model),
    }


def completion_chunks(answer: Answer) -> Iterator[dict[str, Any]]:
    """The chunks of a streamed legacy completion: the same shape as the body."""
    for index, choice in enumerate(answer.choices):
        pieces = list(text_pieces(choice.tokens)) or [("", 0, 0)]
        for position, (text, start, end) in enumerate(pieces):
            last = position == len(pieces) - 1
            yield {
                "id": answer.id,
                "object": COMPLETION_OBJECT,
                "created": answer.created,
                "model": answer.model,
                "choices": [
                    {
                        "text": text,
                        "index": index,
                        "logprobs": _completion_logprobs(choice, start, end, answer),
                        "finish_reason": choice.finish_reason if last else None,
                    }
                ],
            }


def _completion_logprobs(
    choice: Choice, start: int, end: int, answer: Answer
) -> dict[str, Any] | None:
    if choice.logprobs is None:
        return None
    found = choice.logprobs[start:end]
    offset = answer.text_offset + len(b"".join(choice.tokens[:start]).decode("utf-8", "ignore"))
    offsets = []
    for entry in found:
        offsets.append(offset)
        offset += len(entry.token.decode("utf-8", "ignore"))
    return {
        "tokens": [logprobs.token_text(entry.token) for entry in found],
        "token_logprobs": [entry.logprob for entry in found],
        "top_logprobs": [
            {logprobs.token_text(c.token): c.logprob for c in entry.top} for entry in found
        ],
        "text_offset": offsets,
    }


# -- streaming ----------------------------------------------------------------------------


def text_pieces(pieces: Sequence[bytes]) -> Iterator[tuple[str, int, int]]:
    """The reply as a stream sends it: a token at a time, but a token that ends inside a
    character waits for the tokens that complete it. Yields (text, first token, end)."""
    start = 0
    pending = b""
    for index, piece in enumerate(pieces):
        pending += piece
        try:
            text = pending.decode("utf-8")
        except UnicodeDecodeError:
            continue
        yield text, start, index + 1
        start, pending = index + 1, b""
    if pending:  # a reply cut inside a character
        yield pending.decode("utf-8", "replace"), start, len(pieces)
