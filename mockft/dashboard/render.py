"""Pages and fragments from the Jinja2 templates, with the headers every dashboard answer
carries: a Content-Security-Policy that lets the page load nothing from anywhere but this
server (no CDN, no font service, no inline script), no caching of live data, and an ETag on
fragments so a poll that finds nothing new costs a 304.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mockft import __version__
from mockft.dashboard import charts, session

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

FRAGMENT_HEADER = "x-dashboard-fragment"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
KIB = 1024


def instant(value: object) -> str:
    """Unix seconds as the page shows them (UTC, to the second); "—" for none."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—"
    return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def machine_instant(value: object) -> str:
    """For `<time datetime=...>` and datetime-local fields."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return datetime.fromtimestamp(int(value), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def size(value: int) -> str:
    """Bytes for a person: 4,028 bytes, 3.9 KiB, 12.0 MiB."""
    if value < KIB:
        return f"{value:,} bytes"
    if value < KIB * KIB:
        return f"{value / KIB:,.1f} KiB"
    return f"{value / KIB / KIB:,.1f} MiB"


@functools.cache
def templates() -> Jinja2Templates:
    """The templates, loaded when the dashboard is first opened: a server nobody looks at
    never imports Jinja2."""
    import jinja2
    from starlette.templating import Jinja2Templates

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mockft.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["instant"] = instant
    env.filters["machine_instant"] = machine_instant
    env.filters["size"] = size
    env.globals["chart_svg"] = charts.render
    env.globals["chart_legend"] = charts.legend
    env.globals["version"] = __version__
    return Jinja2Templates(env=env)


def wants_fragment(request: Request) -> bool:
    return FRAGMENT_HEADER in request.headers


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A whole page; `context` is completed with what the layout needs (the header's live
    clock among it)."""
    full = _completed(request, context)
    full["flash"] = session.flash_of(request)
    if "clock" in full:
        full["clock_live"] = _live(request, "clock.html", full)
    response = templates().TemplateResponse(request, name, full, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    session.keep_csrf(request, response)
    session.take_flash(request, response)
    return response


def fragment(request: Request, name: str, context: dict[str, Any]) -> Response:
    """A live region's new content, or 304 when it is what the browser has."""
    body, tag = _live(request, name, _completed(request, context))
    headers = {**SECURITY_HEADERS, "etag": tag}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return HTMLResponse(body, headers=headers)


def respond(request: Request, name: str, live: str, context: dict[str, Any]) -> Response:
    """The page `name` with its live region `live` inside, or only that region when the
    page's script asks for it."""
    if wants_fragment(request):
        return fragment(request, live, context)
    region = _live(request, live, _completed(request, context))
    return page(request, name, {**context, "live": region})


def _completed(request: Request, context: dict[str, Any]) -> dict[str, Any]:
    return {"base": base_of(request), "csrf": session.csrf_token(request), **context}


def _live(request: Request, name: str, context: dict[str, Any]) -> tuple[Markup, str]:
    """A live region's markup and its ETag: the page embeds both, so the script's first
    poll is a 304 when nothing changed since the page was made."""
    body = templates().get_template(name).render(request=request, **context)
    return Markup(body), '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def base_of(request: Request) -> str:
    """Where the dashboard is mounted (/dashboard, under any root path)."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")
