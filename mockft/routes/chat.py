"""Calling models: `POST /v1/chat/completions` and the legacy `POST /v1/completions`,
as JSON or as a server-sent event stream."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mockft.routes.common import api_json, org_of, parse_body, project_of, service_of
from mockft.schemas import CreateChatCompletion, CreateCompletion
from mockft.service.inference import Answer
from mockft.wire.chat import chat_body, chat_chunks, completion_body, completion_chunks, headers

EVENT_STREAM = "text/event-stream"
DONE = b"data: [DONE]\n\n"


def _events(chunks: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for chunk in chunks:
        yield b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
    yield DONE


def _respond(
    answer: Answer,
    stream: bool | None,
    body: Callable[[Answer], dict[str, Any]],
    chunks: Callable[[Answer], Iterator[dict[str, Any]]],
) -> Response:
    if stream:
        return StreamingResponse(
            _events(chunks(answer)), headers=headers(answer), media_type=EVENT_STREAM
        )
    return api_json(body(answer), headers=headers(answer))


async def chat_completions(request: Request) -> Response:
    body = await parse_body(request, CreateChatCompletion)
    answer = service_of(request).inference.chat(org_of(request), body, project_of(request))
    return _respond(answer, body.stream, chat_body, chat_chunks)


async def completions(request: Request) -> Response:
    body = await parse_body(request, CreateCompletion)
    inference = service_of(request).inference
    answer = inference.complete(org_of(request), body, project_of(request))
    return _respond(answer, body.stream, completion_body, completion_chunks)


routes = [
    Route("/chat/completions", chat_completions, methods=["POST"]),
    Route("/completions", completions, methods=["POST"]),
]
