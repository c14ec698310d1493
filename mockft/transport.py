"""In-process HTTP: transports that hand each request straight to an ASGI app, no sockets.

The openai SDK has been built on two HTTP client families with the same shape but distinct
types: `httpx` (openai 1.x and 2.x) and `httpx2` (3.x). Each family gets a sync transport,
which runs the app on an event loop in a helper thread (an anyio blocking portal, as
Starlette's TestClient does; an app with an `answer_at_once(scope)` may answer on the
caller's thread instead), and an async one, which runs it on the caller's loop. Both
honour the client's read timeout and report a response that never came (the app returned
without answering: a dropped connection) as the family's `RemoteProtocolError`, so the
SDK's retry logic sees what it would see over a network.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.types import ASGIApp, Message

if TYPE_CHECKING:
    import httpx
    import httpx2

Family = Literal["httpx", "httpx2"]
FAMILIES: tuple[Family, ...] = ("httpx2", "httpx")
DROPPED_MESSAGE = "Server disconnected without sending a response."
TIMEOUT_MESSAGE = "timed out"
CLIENT_ADDRESS = ("127.0.0.1", 123)
DEFAULT_PORTS = {"http": 80, "https": 443}


class ConnectionDropped(Exception):
    """The app returned without sending a complete response."""


class RequestTimedOut(Exception):
    """The app did not answer within the client's read timeout."""


@dataclass(frozen=True)
class Exchange:
    """A request, reduced to what an ASGI scope needs (the same for both families)."""

    method: str
    scheme: str
    host: str
    port: int | None
    path: str
    raw_path: bytes
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    timeout: float | None


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _scope(exchange: Exchange) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": exchange.method,
        "scheme": exchange.scheme,
        "path": exchange.path,
        "raw_path": exchange.raw_path,
        "query_string": exchange.query,
        "root_path": "",
        "headers": exchange.headers,
        "server": (exchange.host, exchange.port or DEFAULT_PORTS.get(exchange.scheme)),
        "client": CLIENT_ADDRESS,
    }


async def call_app(app: ASGIApp, exchange: Exchange) -> Reply:
    scope = _scope(exchange)
    body_sent = False
    answered = anyio.Event()
    status: int | None = None
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": exchange.body, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            if exchange.method != "HEAD":
                chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                answered.set()

    with anyio.move_on_after(exchange.timeout) as waiting:
        await app(scope, receive, send)
    if waiting.cancelled_caught:
        raise RequestTimedOut(TIMEOUT_MESSAGE)
    if status is None or not answered.is_set():
        raise ConnectionDropped(DROPPED_MESSAGE)
    return Reply(status, headers, b"".join(chunks))


def _exchange(
    method: str,
    scheme: str,
    host: str,
    port: int | None,
    path: str,
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    timeouts: object,
) -> Exchange:
    read = timeouts.get("read") if isinstance(timeouts, dict) else None
    return Exchange(
        method=method,
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        raw_path=raw_path.split(b"?", 1)[0],
        query=query,
        headers=[(k.lower(), v) for k, v in headers],
        body=body,
        timeout=float(read) if isinstance(read, (int, float)) else None,
    )


class Portal:
    """An event loop in a helper thread for sync clients, started on first use."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None
        self._lock = threading.Lock()

    def get(self) -> BlockingPortal:
        with self._lock:
            if self._portal is None:
                self._portal = self._stack.enter_context(start_blocking_portal())
            return self._portal

    def call(self, app: ASGIApp, exchange: Exchange) -> Reply:
        # An app that can answer at once (mockft's kept answers to polls) spares the hop to
        # the helper thread's loop, which costs more than the answer.
        at_once = getattr(app, "answer_at_once", None)
        if at_once is not None:
            answered = at_once(_scope(exchange))
            if answered is not None:
                status, headers, body = answered
                return Reply(status, headers, body if exchange.method != "HEAD" else b"")
        return self.get().call(call_app, app, exchange)

    def close(self) -> None:
        with self._lock:
            self._portal = None
            self._stack.close()


# --- httpx (openai 1.x, 2.x) -------------------------------------------------------------


def _transports_for(family: Any) -> tuple[Any, Any]:
    """The sync and async transports for one client family (the `httpx` or the `httpx2`
    module: the same API under two names)."""

    def exchange(request: Any, body: bytes) -> Exchange:
        url = request.url
        return _exchange(
            request.method,
            url.scheme,
            url.host,
            url.port,
            url.path,
            url.raw_path,
            url.query,
            list(request.headers.raw),
            body,
            request.extensions.get("timeout"),
        )

    def response(request: Any, reply: Reply) -> Any:
        return family.Response(
            reply.status, headers=reply.headers, content=reply.body, request=request
        )

    class SyncTransport(family.BaseTransport):  # type: ignore[misc]
        def __init__(self, app: ASGIApp, portal: Portal) -> None:
            self.app = app
            self.portal = portal

        def handle_request(self, request: Any) -> Any:
            with _family_errors(family, request):
                reply = self.portal.call(self.app, exchange(request, request.read()))
            return response(request, reply)

    class AsyncTransport(family.AsyncBaseTransport):  # type: ignore[misc]
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def handle_async_request(self, request: Any) -> Any:
            with _family_errors(family, request):
                reply = await call_app(self.app, exchange(request, await request.aread()))
            return response(request, reply)

    return SyncTransport, AsyncTransport


@functools.cache
def _httpx_transports() -> tuple[
    Callable[[ASGIApp, Portal], httpx.BaseTransport], Callable[[ASGIApp], httpx.AsyncBaseTransport]
]:
    import httpx

    return _transports_for(httpx)


# --- httpx2 (openai 3.x) -----------------------------------------------------------------


@functools.cache
def _httpx2_transports() -> tuple[
    Callable[[ASGIApp, Portal], httpx2.BaseTransport],
    Callable[[ASGIApp], httpx2.AsyncBaseTransport],
]:
    import httpx2

    return _transports_for(httpx2)


@contextmanager
def _family_errors(module: Any, request: Any) -> Iterator[None]:
    """Our two failures as the family's own exceptions (what a network would raise)."""
    try:
        yield
    except ConnectionDropped as exc:
        raise module.RemoteProtocolError(str(exc), request=request) from None
    except RequestTimedOut as exc:
        raise module.ReadTimeout(str(exc), request=request) from None


def sdk_family() -> Family:
    """The HTTP client family the installed openai SDK is built on."""
    import openai

    for base in openai.DefaultHttpxClient.__mro__:
        root = base.__module__.split(".", 1)[0]
        for family in FAMILIES:
            if root == family:
                return family
    raise RuntimeError("the installed openai SDK is built on neither httpx nor httpx2")


def transport(app: ASGIApp, portal: Portal, family: Family) -> Any:
    """A sync transport of `family` (an `httpx.BaseTransport` or `httpx2.BaseTransport`)."""
    sync, _ = _httpx2_transports() if family == "httpx2" else _httpx_transports()
    return sync(app, portal)


def async_transport(app: ASGIApp, family: Family) -> Any:
    """An async transport of `family`."""
    _, async_ = _httpx2_transports() if family == "httpx2" else _httpx_transports()
    return async_(app)


def family_module(family: Family) -> Any:
    """The client module of `family` (`httpx` or `httpx2`)."""
    if family == "httpx2":
        import httpx2

        return httpx2
    import httpx

    return httpx
