"""create_app(settings): wiring only. Routes, the OpenAI response headers, auth, and the
one error path."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockft import azure, dashboard, errors
from mockft.chaos import LOG_ENTRY_KEY, ChaosMiddleware, RequestLogMiddleware
from mockft.config import Settings
from mockft.routes import chat, control, files, fine_tuning, graders, models, uploads
from mockft.routes.common import api_json, error_response
from mockft.service import Service
from mockft.service.request_log import LoggedRequest

OPENAI_VERSION = "2020-10-01"
VERSION_HEADER = (b"openai-version", OPENAI_VERSION.encode())
PUBLIC_PATHS = frozenset({"/mockft/health"})
API_PREFIX = "/v1/"
CONTROL_PREFIX = "/mockft/"
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13  # sqlite3.SQLITE_FULL (Python 3.11+)
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
            if path not in PUBLIC_PATHS:
                org_name = self._authenticate(scope, path)
            await self.app(scope, receive, send_with_headers)
        except errors.APIError as exc:
            if response_started:
                raise
            await error_response(exc)(scope, receive, send_with_headers)
        except Exception as exc:
            if response_started:
                raise
            if _disk_full(exc):
                log.warning("disk full on %s %s: %s", scope.get("method"), scope["path"], exc)
                await error_response(errors.disk_full())(scope, receive, send_with_headers)
                return
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await error_response(errors.server_error())(scope, receive, send_with_headers)

    def _authenticate(self, scope: Scope, path: str) -> str:
        """The organization's name for the response header; the organization (and, on the
        control API, the caller) go into the request's state."""
        state = scope.setdefault("state", {})
        authorization = _header(scope, b"authorization")
        organization = _header(scope, b"openai-organization")
        if path.startswith(CONTROL_PREFIX):
            caller = self.service.keys.authenticate_control(authorization, organization)
            state["caller"] = caller
            org = caller.org
        elif path.startswith(API_PREFIX):
            org = self.service.authenticate(authorization, organization)
        else:
            return self.service.keys.default.name
        state["org"] = org
        entry = state.get(LOG_ENTRY_KEY)
        if isinstance(entry, LoggedRequest):
            entry.org = org.id
        return org.name


def _disk_full(exc: BaseException) -> bool:
    """A write that failed for want of space: the blob store's OSError, or SQLite's."""
    for error in (exc, exc.__cause__, exc.__context__):
        if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
            return True
        if isinstance(error, sqlite3.OperationalError) and (
            getattr(error, "sqlite_errorcode", None) == SQLITE_FULL
            or "database or disk is full" in str(error)
        ):
            return True
    return False


class BodyTimeout:
    """A request body that sends nothing for `seconds` is abandoned: the route reading it
    gets an APIError (408) where it waits, so what it was writing is aborted and deleted,
    and the connection is closed. Once the body is complete, `receive` (a wait for the
    client to disconnect) is passed through untouched."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            with anyio.move_on_after(self.seconds) as idle:
                message = await receive()
            if idle.cancelled_caught:
                raise errors.body_timeout(self.seconds)
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, timed_receive, send)


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
    # `/v1/files/` is an unknown URL, as on the real API: no redirect built from the
    # client's Host header.
    app.router.redirect_slashes = False
    app.state.service = service
    app.state.settings = settings
    # Outermost last: request log -> envelope (auth, headers, errors) -> body timeout ->
    # chaos -> routes.
    app.add_middleware(
        ChaosMiddleware,
        chaos=service.control.chaos,
        default_org=service.keys.default.id,
        max_body_bytes=settings.max_json_bytes,
    )
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout)
    app.add_middleware(OpenAIEnvelope, service=service)
    app.add_middleware(RequestLogMiddleware, log=service.control.requests)
    return app


__all__ = ["api_json", "create_app"]
