"""How mockft runs under uvicorn: the config every server uses (`mockft serve`, the pytest
plugin's live server), the HTTP stack it runs on, and the timeouts that keep a stalled
client from holding a connection forever.

- The stack: httptools for HTTP/1.1 and uvloop for the event loop where they are installed
  (mockft installs both where their wheels exist), else uvicorn's pure-Python h11 and
  asyncio's own loop. `--http` / `--loop` pick one; `stack()` names the one that serves.
- Between requests, uvicorn closes a keep-alive connection idle for `KEEP_ALIVE_SECONDS`.
- A request's headers must be complete within `headers_timeout` of the connection opening
  (or of the previous response): uvicorn itself waits for them forever, so a client that
  sends a header byte now and then would keep its socket. The protocol below closes it,
  whichever of uvicorn's two HTTP protocols it extends.
- A body that stops arriving is the app's to time out (`front._timed`), so that what it
  had written is deleted.
- uvicorn's access log (a formatted line per request) is off unless asked for: it costs
  more than answering a poll.
- A server run in a thread (the pytest plugin's live server, `ThreadServer`) stops as soon as
  it is told: uvicorn looks at its exit flag every 0.1 s and then sleeps 0.1 s more for
  connections that are already gone, ~0.16 s a stop where a test suite stops dozens.
- `mockft serve` hands the GIL over every `SWITCH_INTERVAL_SECONDS` (Python's default is
  5 ms): the heavy work that runs beside the event loop on threads (validation, result
  files) would otherwise keep the loop's thread waiting up to 5 ms each time it gives the
  GIL up (every socket read and write), and a request waits for several of those.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uvicorn

from mockft.config import HEADERS_TIMEOUT_SECONDS, KEEP_ALIVE_SECONDS, Settings

if TYPE_CHECKING:
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Protocol
else:
    _Protocol = asyncio.Protocol

HTTPTOOLS, H11 = "httptools", "h11"
UVLOOP, ASYNCIO = "uvloop", "asyncio"
SWITCH_INTERVAL_SECONDS = 0.0005
AUTO = "auto"
# uvicorn's main loop: how often it looks at its exit flag (and refreshes its Date header).
TICK_SECONDS = 0.1


@dataclass(frozen=True)
class Stack:
    """The HTTP parser and the event loop a server runs on."""

    http: str
    loop: str

    def __str__(self) -> str:
        return f"uvicorn {uvicorn.__version__} ({self.http}, {self.loop})"

    def to_dict(self) -> dict[str, str]:
        return {
            "server": "uvicorn",
            "version": uvicorn.__version__,
            "http": self.http,
            "loop": self.loop,
        }


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def stack(settings: Settings) -> Stack:
    """The stack `settings` ask for: "auto" is the fast one where it is installed."""
    http = settings.http if settings.http != AUTO else HTTPTOOLS if _installed(HTTPTOOLS) else H11
    loop = settings.loop if settings.loop != AUTO else UVLOOP if _installed(UVLOOP) else ASYNCIO
    return Stack(http, loop)


class HeadersDeadline(_Protocol):
    """Mixed into uvicorn's HTTP protocol (h11's or httptools'): closes a connection whose
    next request's headers are not complete `headers_timeout` seconds after the connection
    opened or the last response ended (sending data does not extend the deadline). Both
    protocols set `self.cycle` when a request's headers are complete, inside
    `data_received`, and call `on_response_complete` when its answer is sent."""

    headers_timeout: float = HEADERS_TIMEOUT_SECONDS

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._headers_timeout = self.headers_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_after: Any = None  # the request before the one awaited

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._deadline is not None and self.cycle is not self._waiting_after:
            self._cancel_deadline()  # the awaited request's headers are in

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle is None or self.cycle.response_complete:
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._cancel_deadline()
        self._waiting_after = self.cycle
        self._deadline = self.loop.call_later(self._headers_timeout, self._headers_timed_out)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_timed_out(self) -> None:
        self._deadline = None
        if self.cycle is self._waiting_after and not self.transport.is_closing():
            self.transport.close()


def _base_protocol(http: str) -> type[asyncio.Protocol]:
    if http == HTTPTOOLS:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return H11Protocol


@functools.cache
def protocol(headers_timeout: float, http: str = H11) -> type[asyncio.Protocol]:
    """uvicorn's `http` protocol with this headers deadline (one instance per connection)."""
    base = _base_protocol(http)
    return type(
        f"HeadersDeadline{base.__name__}",
        (HeadersDeadline, base),
        {"headers_timeout": headers_timeout},
    )


def options(settings: Settings, *, log_level: str = "info") -> dict[str, Any]:
    """uvicorn's settings for a mockft server (for `uvicorn.run` or `uvicorn.Config`)."""
    chosen = stack(settings)
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "http": protocol(settings.headers_timeout, chosen.http),
        "loop": chosen.loop,
        "access_log": settings.access_log,
    }


def config(
    app: Any, settings: Settings, *, log_level: str = "info", **kwargs: Any
) -> uvicorn.Config:
    return uvicorn.Config(app, **options(settings, log_level=log_level), **kwargs)


class ThreadServer(uvicorn.Server):
    """A uvicorn server for a thread other than the caller's: `stop()` (from any thread)
    wakes it at once instead of at its next 0.1 s tick, and a server with no connection
    and no task left shuts down without uvicorn's 0.1 s wait for them (with any, it waits
    as uvicorn does). The app's shutdown (its lifespan) runs either way."""

    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_SECONDS)

    def stop(self) -> None:
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed already
                loop.call_soon_threadsafe(wake.set)

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        if self.server_state.connections or self.server_state.tasks:
            await super().shutdown(sockets)
            return
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


def run(app: Any, settings: Settings, *, log_level: str = "info") -> None:
    """Serve `app` until stopped (`mockft serve`)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    try:
        uvicorn.run(app, **options(settings, log_level=log_level))
    finally:
        sys.setswitchinterval(previous)
