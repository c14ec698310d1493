"""Live mockft servers for the `mockft_server` fixture: uvicorn in a daemon thread on a
port the OS picked, one per configuration per process (so one per pytest-xdist worker)."""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from mockft.pytest_plugin.controls import MockFTControls, MockFTError
from mockft.pytest_plugin.options import MockFTOptions

if TYPE_CHECKING:
    import uvicorn
    from openai import AsyncOpenAI, OpenAI
    from starlette.applications import Starlette

    from mockft.config import Settings
    from mockft.service import Service

API_PREFIX = "/v1"
LOOPBACK = "127.0.0.1"
POLL_SECONDS = 0.01
SERVER_START_SECONDS = 10.0
SERVER_STOP_SECONDS = 10.0


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from mockft import server
        from mockft.app import create_app
        from mockft.service import Service

        self.service: Service = Service.open(settings)
        self.app: Starlette = create_app(settings, self.service)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((LOOPBACK, 0))
        self.port = int(self._socket.getsockname()[1])
        config = server.config(self.app, settings, log_level="warning", lifespan="on")
        self._server: uvicorn.Server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"mockft-server-{self.port}",
            daemon=True,
        )

    @property
    def root_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise MockFTError("the mockft server did not start")
            time.sleep(POLL_SECONDS)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=SERVER_STOP_SECONDS)
        self._socket.close()


class ServerPool:
    """Live servers by configuration, started on first use, stopped at session end."""

    def __init__(self) -> None:
        self._servers: dict[MockFTOptions, LiveServer] = {}

    def get(self, options: MockFTOptions) -> LiveServer:
        server = self._servers.get(options)
        if server is None:
            server = LiveServer(options.settings(host=LOOPBACK)).start()
            self._servers[options] = server
        return server

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


class MockFTServer(MockFTControls):
    """The `mockft_server` fixture's handle: a live server reached over real HTTP."""

    def __init__(self, server: LiveServer, options: MockFTOptions) -> None:
        self.server = server
        self.options = options
        self.service = server.service
        self.app = server.app
        self.port = server.port
        self.root_url = server.root_url
        self.base_url = server.root_url + API_PREFIX
        self._closers: list[Any] = []

    def http_client(self) -> Any:
        """A sync client of the SDK's family with the server's root as base URL and the API
        key set: for raw and control-API requests."""
        from mockft.transport import family_module, sdk_family

        client = family_module(sdk_family()).Client(
            base_url=self.root_url, headers={"Authorization": f"Bearer {self.api_key}"}
        )
        self._closers.append(client.close)
        return client

    def openai(self, **kwargs: Any) -> OpenAI:
        import openai

        kwargs.setdefault("api_key", self.api_key)
        client = openai.OpenAI(base_url=self.base_url, **kwargs)
        self._closers.append(client.close)
        return client

    def async_openai(self, **kwargs: Any) -> AsyncOpenAI:
        import openai

        kwargs.setdefault("api_key", self.api_key)
        return openai.AsyncOpenAI(base_url=self.base_url, **kwargs)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self._closers.clear()
