"""How mockft runs under uvicorn: the config every server uses (`mockft serve`, the pytest
plugin's live server), with the timeouts that keep a stalled client from holding a
connection forever.

- Between requests, uvicorn closes a keep-alive connection idle for `KEEP_ALIVE_SECONDS`.
- A request's headers must be complete within `headers_timeout` of the connection opening
  (or of the previous response): uvicorn itself waits for them forever, so a client that
  sends a header byte now and then would keep its socket. The protocol below closes it.
- A body that stops arriving is the app's to time out (`app.BodyTimeout`), so that what it
  had written is deleted.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

import uvicorn

from mockft.config import HEADERS_TIMEOUT_SECONDS, KEEP_ALIVE_SECONDS, Settings

if TYPE_CHECKING:
    from uvicorn.protocols.http.h11_impl import H11Protocol as _HTTPProtocol
else:  # whichever uvicorn would pick: httptools when installed, else h11
    from uvicorn.protocols.http.auto import AutoHTTPProtocol as _HTTPProtocol


class HeadersDeadlineProtocol(_HTTPProtocol):
    """uvicorn's HTTP protocol, closing a connection whose next request's headers are not
    complete `headers_timeout` seconds after the connection opened or the last response
    ended (sending data does not extend the deadline)."""

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


@functools.cache
def protocol(headers_timeout: float) -> type[HeadersDeadlineProtocol]:
    """The protocol class with this deadline (uvicorn makes one protocol per connection)."""
    return type(
        HeadersDeadlineProtocol.__name__,
        (HeadersDeadlineProtocol,),
        {"headers_timeout": headers_timeout},
    )


def options(settings: Settings, *, log_level: str = "info") -> dict[str, Any]:
    """uvicorn's settings for a mockft server (for `uvicorn.run` or `uvicorn.Config`)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "http": protocol(settings.headers_timeout),
    }


def config(
    app: Any, settings: Settings, *, log_level: str = "info", **kwargs: Any
) -> uvicorn.Config:
    return uvicorn.Config(app, **options(settings, log_level=log_level), **kwargs)
