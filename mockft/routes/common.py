"""What every route module shares: the service and caller, JSON bodies, responses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from mockft import errors
from mockft.auth import Identity, Organization
from mockft.schemas import parse, parse_json_body
from mockft.service import Service

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def org_of(request: Request) -> Organization:
    org: Organization = request.state.org
    return org


def identity_of(request: Request) -> Identity:
    """Who a /v1 request acts as (the envelope authenticated it); a request the Azure
    flavour authenticated is its organization's, in no project."""
    identity: Identity | None = getattr(request.state, "identity", None)
    return identity if identity is not None else Identity(org_of(request))


def project_of(request: Request) -> str | None:
    """The project a /v1 request acts in (None: its organization's default)."""
    return identity_of(request).project


def api_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    try:
        content = orjson.dumps(body)
    except TypeError:  # an integer past 64 bits, echoed from a request: the slow path
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(content, status, headers=headers, media_type="application/json")


def error_response(exc: errors.APIError) -> Response:
    body = exc.body()
    error = body.get("error")
    if isinstance(error, dict):
        # However a message was built, it quotes no more than a short excerpt of the input.
        if isinstance(error.get("message"), str):
            error["message"] = errors.excerpt(error["message"], errors.MAX_MESSAGE_CHARS)
        if isinstance(error.get("param"), str):
            error["param"] = errors.excerpt(error["param"])
    return api_json(body, exc.status, exc.headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (413) as soon as it is known to exceed `limit`: from its
    declared length before reading any of it, else while it streams in, so no more than
    `limit` bytes are ever held."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise errors.content_too_large(limit, int(declared))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise errors.content_too_large(limit, len(body))
    return bytes(body)


async def json_body(request: Request) -> dict[str, Any]:
    limit = service_of(request).settings.max_json_bytes
    return parse_json_body(await read_body(request, limit))


async def parse_body(request: Request, model: type[M]) -> M:
    return parse(model, await json_body(request))


async def settled(request: Request, operation: Callable[[], T]) -> T:
    """Run a service operation at one instant, the request's (`Service.settled`): work it
    needs that still runs off the event loop is awaited, never waited for."""
    return await service_of(request).settled(operation)
