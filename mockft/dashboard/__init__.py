"""The web dashboard at /dashboard/: jobs, files, models and the operator's actions, as
server-rendered pages over the same service the API runs on. Outside /v1, matched after
every API route, and loaded on its first request: the API pays nothing for it, not even
the imports.

One concept per module: `pages` (pages, fragments and forms), `reader` (what a page reads through
the service), `actions` (the operator's control-API calls), `session` (keys, cookies,
CSRF), `render` (templates, headers, fragments), and the pure `jobview` (what a job page
derives from the API's answers), `charts` (SVG) and `examples` (chat bubbles).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

PREFIX = "/dashboard"


class _OnFirstRequest:
    """The dashboard's router, imported and built when someone first opens it."""

    def __init__(self) -> None:
        self._router: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._router is None:
            from mockft.dashboard.pages import router

            self._router = router()
        await self._router(scope, receive, send)


async def _to_home(request: Request) -> Response:
    return RedirectResponse(request.scope.get("root_path", "") + PREFIX + "/", status_code=307)


def routes() -> list[BaseRoute]:
    """`/dashboard` and everything under it."""
    return [Route(PREFIX, _to_home), Mount(PREFIX, app=_OnFirstRequest())]


__all__ = ["PREFIX", "routes"]
