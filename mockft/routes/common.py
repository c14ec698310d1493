"""What every route module shares: the service and caller, JSON bodies, responses."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from mockft import errors
from mockft.auth import Organization
from mockft.schemas import parse, parse_json_body
from mockft.service import Service

M = TypeVar("M", bound=BaseModel)


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def org_of(request: Request) -> Organization:
    org: Organization = request.state.org
    return org


def api_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    try:
        content = orjson.dumps(body)
    except TypeError:  # an integer past 64 bits, echoed from a request: the slow path
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(content, status, headers=headers, media_type="application/json")


def error_response(exc: errors.APIError) -> Response:
    return api_json(exc.body(), exc.status, exc.headers)


async def json_body(request: Request) -> dict[str, Any]:
    return parse_json_body(await request.body())


async def parse_body(request: Request, model: type[M]) -> M:
    return parse(model, await json_body(request))
