"""create_app(settings): wiring only. The routes behind mockft's front (`mockft.front`:
the request log, auth, chaos, kept answers, the OpenAI response headers and the one error
path)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Scope

from mockft import azure, dashboard, errors, tokens
from mockft.config import Settings
from mockft.front import Front
from mockft.routes import (
    chat,
    control,
    files,
    fine_tuning,
    graders,
    models,
    permissions,
    uploads,
    webhooks,
)
from mockft.routes.common import api_json, error_response
from mockft.service import Service


class MockFT(Starlette):
    """Starlette with mockft's front (`mockft.front`) as its outermost layer, in place of
    Starlette's ServerErrorMiddleware: the front turns every failure into the envelope."""

    def __init__(self, service: Service, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service

    def build_middleware_stack(self) -> ASGIApp:
        handlers = {
            key: value
            for key, value in self.exception_handlers.items()
            if key not in (500, Exception)
        }
        app: ASGIApp = ExceptionMiddleware(self.router, handlers=handlers, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return Front(app, self.service)

    def answer_at_once(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """A kept answer to `scope` on the caller's thread (see `Front.answer_at_once`): what
        the in-process transport of a sync client tries before it hops to the event loop."""
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        front = self.middleware_stack
        return front.answer_at_once(scope) if isinstance(front, Front) else None


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
        if settings.preload_vocabularies:
            # Before the first request, not inside it (off the loop).
            await anyio.to_thread.run_sync(tokens.preload)
        await service.delivery.start()  # webhooks: the one background task, if configured
        try:
            yield
        finally:
            await service.delivery.stop()
            service.close()

    app = MockFT(
        service,
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
                    *permissions.routes,
                ],
            ),
            *_under("/mockft", [*control.routes, *webhooks.routes]),
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
    return app


__all__ = ["api_json", "create_app"]
