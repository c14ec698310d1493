"""create_app(settings): wiring only. Routes, the OpenAI response headers, auth, and the
one error path."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockft import azure, dashboard, errors
from mockft.chaos import Chaos, ChaosMiddleware, RequestLog, RequestLogMiddleware
from mockft.config import Settings
from mockft.routes import chat, control, files, fine_tuning, graders, models, uploads
from mockft.routes.common import api_json, error_response
from mockft.service import Service

OPENAI_VERSION = "2020-10-01"
VERSION_HEADER = (b"openai-version", OPENAI_VERSION.encode())
PUBLIC_PATHS = frozenset({"/mockft/health"})
GUARDED_PREFIXES = ("/v1/", "/mockft/")
log = logging.getLogger("mockft")


class OpenAIEnvelope:
    """Authenticates, stamps every response with the headers the real API sends, and
    turns anything that escapes a route into the error envelope (never a traceback)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = b"req_" + os.urandom(16).hex().encode()
        org_name = self.service.keys.default.name
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                elapsed = int((time.perf_counter() - started) * 1000)
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", ()),
                        (b"openai-organization", org_name.encode()),
                        (b"openai-processing-ms", b"%d" % elapsed),
                        VERSION_HEADER,
                        (b"x-request-id", request_id),
                    ],
                }
            await send(message)

        try:
            path: str = scope["path"]
            if path.startswith(GUARDED_PREFIXES) and path not in PUBLIC_PATHS:
                org = self.service.authenticate(
                    _header(scope, b"authorization"), _header(scope, b"openai-organization")
                )
                org_name = org.name
                scope.setdefault("state", {})["org"] = org
            await self.app(scope, receive, send_with_headers)
        except errors.APIError as exc:
            if response_started:
                raise
            await error_response(exc)(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if response_started:
                raise
            await error_response(errors.server_error())(scope, receive, send_with_headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _under(prefix: str, routes: Sequence[Route]) -> list[BaseRoute]:
    """Routes with the prefix in their own path: one flat table is cheaper to match than
    a Mount (request routing is on every request's path)."""
    flat: list[BaseRoute] = []
    for route in routes:
        flat.append(Route(prefix + route.path, route.endpoint, methods=route.methods))
    return flat


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.APIError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        return error_response(errors.invalid_url(request.method, request.url.path))
    return error_response(errors.APIError(exc.status_code, str(exc.detail)))


def create_app(settings: Settings | None = None, service: Service | None = None) -> Starlette:
    settings = settings or Settings()
    service = service or Service.open(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        service.close()

    app = Starlette(
        routes=[
            *_under(
                "/v1",
                [
                    *fine_tuning.routes,
                    *files.routes,
                    *uploads.routes,
                    *chat.routes,
                    *graders.routes,
                    *models.routes,
                ],
            ),
            *_under("/mockft", control.routes),
            *azure.routes(),
            *dashboard.routes(),  # last: an API request never reaches it
        ],
        exception_handlers={errors.APIError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.settings = settings
    app.state.chaos = Chaos(seed=settings.seed)
    app.state.requests = RequestLog()
    # Outermost last: request log -> envelope (auth, headers, errors) -> chaos -> routes.
    app.add_middleware(ChaosMiddleware, chaos=app.state.chaos, default_org=service.keys.default.id)
    app.add_middleware(OpenAIEnvelope, service=service)
    app.add_middleware(RequestLogMiddleware, log=app.state.requests)
    return app


__all__ = ["api_json", "create_app"]
