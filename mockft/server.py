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
from typing import TYPE_CHECKING, Any

import uvicorn

from mockft.config import KEEP_ALIVE_SECONDS, Settings

if TYPE_CHECKING:
    from uvicorn.protocols.http.h11_impl import H11Protocol as _HTTPProtocol
else:  # whichever uvicorn would pick: httptools when installed, else h11
    from uvicorn.protocols.http.auto import AutoHTTPProtocol as _HTTPProtocol


class Config(uvicorn.Config):
    def __init__(self, app: Any, *, headers_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, http=HeadersDeadlineProtocol, **kwargs)
        self.headers_timeout = headers_timeout


class HeadersDeadlineProtocol(_HTTPProtocol):
    """uvicorn's HTTP protocol, closing a connection whose next request's headers are not
    complete `headers_timeout` seconds after the connection opened or the last response
    ended (sending data does not extend the deadline)."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._headers_timeout: float = getattr(config, "headers_timeout", 30.0)
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


def config(app: Any, settings: Settings, *, log_level: str = "info", **kwargs: Any) -> Config:
    return Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        headers_timeout=settings.headers_timeout,
        **kwargs,
    )
