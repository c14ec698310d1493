"""Who is looking, and whether a form really came from the dashboard.

- With no keys configured the dashboard opens directly, on the default organization, with
  the operator actions (a private test server, as the control API is).
- With keys configured it asks for a key (the login form), keeps it in an HttpOnly,
  SameSite=Strict cookie scoped to /dashboard, and shows that key's organization. The
  operator actions go to the callers the control API lets do the same.
- Every form that changes something carries a token equal to a cookie of its own (double
  submit) and must come from the same origin (`Origin`, `Sec-Fetch-Site`).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote, unquote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from mockft import errors
from mockft.auth import Caller, Organization
from mockft.service import Service

KEY_COOKIE = "mockft_key"
CSRF_COOKIE = "mockft_csrf"
FLASH_COOKIE = "mockft_flash"
CSRF_FIELD = "csrf"
COOKIE_PATH = "/dashboard"
CSRF_TOKEN_BYTES = 24
FLASH_SECONDS = 60
MAX_FLASH_CHARS = 500
ERROR_FLASH = "!"  # first character of a flash cookie that tells of a failure
MAX_FORM_FIELDS = 50
MAX_FORM_PART_BYTES = 64 * 1024


@dataclass(frozen=True)
class Viewer:
    org: Organization
    control: bool
    """May use the operator actions (clock, interventions, chaos, reset)."""
    signed_in: bool
    """Came in with a key (and so may sign out); False on a server without keys."""

    @property
    def caller(self) -> Caller:
        return Caller(self.org, self.control)


def keys_configured(service: Service) -> bool:
    return bool(service.settings.api_keys or service.settings.control_keys)


def viewer_of(service: Service, request: Request) -> Viewer | None:
    """The viewer of this request; None when keys are configured and it has no valid one."""
    if not keys_configured(service):
        return Viewer(service.keys.default, control=True, signed_in=False)
    key = unquote(request.cookies.get(KEY_COOKIE, ""))
    if not key:
        return None
    try:
        caller = caller_of(service, key)
    except errors.APIError:
        return None
    # The operator actions are a control key's (or, on a one-organization server without
    # control keys, any key's), as on the control API.
    return Viewer(caller.org, control=caller.control, signed_in=True)


def caller_of(service: Service, key: str) -> Caller:
    """Who a key is on the control API (APIError when refused)."""
    return service.keys.authenticate_control(f"Bearer {key.strip()}")


def sign_in(service: Service, key: str) -> Organization:
    """The organization of a key, an API key or a control key (APIError when refused)."""
    return caller_of(service, key).org


def remember_key(response: Response, key: str) -> None:
    # Percent-encoded: a cookie value is ASCII without separators, a key may be anything.
    response.set_cookie(
        KEY_COOKIE, quote(key.strip(), safe=""), path=COOKIE_PATH, httponly=True, samesite="strict"
    )


def forget_key(response: Response) -> None:
    response.delete_cookie(KEY_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")


# -- CSRF ----------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """This browser's token: its cookie's, or a new one that `keep_csrf` will set."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_token", None)
    if not token:
        token = secrets.token_urlsafe(CSRF_TOKEN_BYTES)
    request.state.csrf_token = token
    return token


def keep_csrf(request: Request, response: Response) -> None:
    token = getattr(request.state, "csrf_token", None)
    if token and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, path=COOKIE_PATH, httponly=True, samesite="strict")


class Forbidden(Exception):
    """A form that did not come from this dashboard."""


async def checked_form(request: Request) -> FormData:
    """The posted form, once it is shown to come from a dashboard page of this server."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden("cross-site request")
    origin = request.headers.get("origin")
    if origin is not None and origin != _own_origin(request):
        raise Forbidden("foreign origin")
    form = await request.form(max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_PART_BYTES)
    sent = form.get(CSRF_FIELD)
    kept = request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not kept or not hmac.compare_digest(sent, kept):
        raise Forbidden("missing or wrong form token")
    return form


def _own_origin(request: Request) -> str:
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}"


# -- flash messages ------------------------------------------------------------------------


def flash(response: Response, message: str, *, error: bool = False) -> None:
    """A message for the next page this browser shows (the answer to a form)."""
    text = (ERROR_FLASH if error else "") + message[:MAX_FLASH_CHARS]
    response.set_cookie(
        FLASH_COOKIE,
        quote(text, safe=""),
        max_age=FLASH_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
    )


def take_flash(request: Request, response: Response) -> None:
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")


def flash_of(request: Request) -> tuple[str, bool] | None:
    """(message, is_error) of the flash cookie, if any."""
    text = unquote(request.cookies.get(FLASH_COOKIE, ""))
    if not text:
        return None
    if text.startswith(ERROR_FLASH):
        return text[1:], True
    return text, False
