"""Calling models: `POST /v1/chat/completions` and the legacy `POST /v1/completions`,
as JSON or as a server-sent event stream."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mockft import synth
from mockft.routes.common import api_json, org_of, parse_body, service_of
from mockft.schemas import CreateChatCompletion, CreateCompletion
from mockft.service.inference import SERVICE_TIER, Answer, stream_pieces

EVENT_STREAM = "text/event-stream"
DONE = b"data: [DONE]\n\n"


def chat_body(answer: Answer) -> dict[str, Any]:
    return {
        "id": answer.id,
        "object": "chat.completion",
        "created": answer.created,
        "model": answer.model,
        "choices": [
            {
                "index": index,
                "message": {
                    "role": "assistant",
                    "content": choice.text,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": choice.finish_reason,
            }
            for index, choice in enumerate(answer.choices)
        ],
        "usage": answer.usage(),
        "service_tier": SERVICE_TIER,
        "system_fingerprint": synth.system_fingerprint(answer.model),
    }


def completion_body(answer: Answer) -> dict[str, Any]:
    return {
        "id": answer.id,
        "object": "text_completion",
        "created": answer.created,
        "model": answer.model,
        "choices": [
            {
                "text": choice.text,
                "index": index,
                "logprobs": None,
                "finish_reason": choice.finish_reason,
            }
            for index, choice in enumerate(answer.choices)
        ],
        "usage": answer.usage(),
        "system_fingerprint": synth.system_fingerprint(answer.model),
    }


def _event(body: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def chat_chunks(answer: Answer) -> Iterator[bytes]:
    def chunk(index: int, delta: dict[str, Any], finish: str | None) -> bytes:
        return _event(
            {
                "id": answer.id,
                "object": "chat.completion.chunk",
                "created": answer.created,
                "model": answer.model,
                "service_tier": SERVICE_TIER,
                "system_fingerprint": synth.system_fingerprint(answer.model),
                "choices": [
                    {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
        )

    for index, choice in enumerate(answer.choices):
        yield chunk(index, {"role": "assistant", "content": "", "refusal": None}, None)
        for piece in stream_pieces(choice.text):
            yield chunk(index, {"content": piece}, None)
        yield chunk(index, {}, choice.finish_reason)
    if answer.include_usage:
        yield _event(
            {
                "id": answer.id,
                "object": "chat.completion.chunk",
                "created": answer.created,
                "model": answer.model,
                "choices": [],
                "usage": answer.usage(),
            }
        )
    yield DONE


def completion_chunks(answer: Answer) -> Iterator[bytes]:
    for index, choice in enumerate(answer.choices):
        pieces = list(stream_pieces(choice.text))
        for position, piece in enumerate(pieces):
            last = position == len(pieces) - 1
            yield _event(
                {
                    "id": answer.id,
                    "object": "text_completion",
                    "created": answer.created,
                    "model": answer.model,
                    "choices": [
                        {
                            "text": piece,
                            "index": index,
                            "logprobs": None,
                            "finish_reason": choice.finish_reason if last else None,
                        }
                    ],
                }
            )
    yield DONE


def _respond(
    answer: Answer,
    stream: bool | None,
    body: Callable[[Answer], dict[str, Any]],
    chunks: Callable[[Answer], Iterator[bytes]],
) -> Response:
    if stream:
        return StreamingResponse(chunks(answer), media_type=EVENT_STREAM)
    return api_json(body(answer))


async def chat_completions(request: Request) -> Response:
    body = await parse_body(request, CreateChatCompletion)
    answer = service_of(request).inference.chat(org_of(request), body)
    return _respond(answer, body.stream, chat_body, chat_chunks)


async def completions(request: Request) -> Response:
    body = await parse_body(request, CreateCompletion)
    answer = service_of(request).inference.complete(org_of(request), body)
    return _respond(answer, body.stream, completion_body, completion_chunks)


routes = [
    Route("/chat/completions", chat_completions, methods=["POST"]),
    Route("/completions", completions, methods=["POST"]),
]
