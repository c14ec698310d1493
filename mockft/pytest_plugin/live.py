"""Live mockft servers, for tests and benchmarks that need real sockets:

- `LiveServer`: uvicorn in a daemon thread of this process on a port the OS picked; the
  `mockft_server` fixture keeps one per configuration per process (so one per pytest-xdist
  worker) in a `ServerPool`.
- `ServeProcess`: `mockft serve` in a subprocess, as a user runs it, waited for until
  `/mockft/health` answers; stopped gracefully or killed with SIGKILL.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mockft.pytest_plugin.controls import MockFTControls, MockFTError
from mockft.pytest_plugin.options import MockFTOptions

if TYPE_CHECKING:
    import ssl

    from openai import AsyncOpenAI, OpenAI
    from starlette.applications import Starlette

    from mockft.config import Settings
    from mockft.service import Service
    from mockft.transport import Family

API_PREFIX = "/v1"
LOOPBACK = "127.0.0.1"
POLL_SECONDS = 0.01
SERVER_START_SECONDS = 10.0
SERVER_STOP_SECONDS = 10.0
# `mockft serve` in a subprocess: how it is run by default, how long it may take to answer
# its health check (a cold interpreter on a loaded machine), and to exit.
PYTHON_MOCKFT = (sys.executable, "-m", "mockft")
HEALTH_PATH = "/mockft/health"
PROCESS_START_SECONDS = 30.0
PROCESS_STOP_SECONDS = 30.0
HEALTH_POLL_SECONDS = 0.02
ENV_PREFIX = "MOCKFT_"


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now (for a process that must be told its port)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class LiveServer:
    """uvicorn serving a mockft app in a daemon thread, on a port the OS picked (the
    settings it runs with say which)."""

    def __init__(self, settings: Settings) -> None:
        from mockft import server
        from mockft.app import create_app
        from mockft.service import Service

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((LOOPBACK, 0))
        self.port = int(self._socket.getsockname()[1])
        self.settings: Settings = settings.model_copy(update={"host": LOOPBACK, "port": self.port})
        self.service: Service = Service.open(self.settings)
        self.app: Starlette = create_app(self.settings, self.service)
        config = server.config(self.app, self.settings, log_level="warning", lifespan="on")
        self._server = server.ThreadServer(config)
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
        """Shut the server down (its lifespan closes the service)."""
        self._server.stop()
        if self._thread.is_alive():
            self._thread.join(timeout=SERVER_STOP_SECONDS)
        self._socket.close()


class ServeProcess:
    """`mockft serve` in a subprocess: `ServeProcess("--memory").start()` starts it on a
    free port and returns once `/mockft/health` answers.

    `flags` follow `--port`; `command` is how mockft is run (`python -m mockft` of this
    interpreter by default; e.g. the `mockft` script, or `mockft` behind a wrapper). The
    environment is this process's, less the `MOCKFT_*` variables (the flags say everything),
    plus `env`; it runs in `cwd` (default: this one). Its output goes to `log` (appended),
    or to a temporary file deleted by `close()` (or when the object goes); `output()` reads
    it, and a server that does not start raises `MockFTError` quoting it."""

    def __init__(
        self,
        *flags: str,
        command: Sequence[str] = PYTHON_MOCKFT,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        cwd: Path | None = None,
        start_seconds: float = PROCESS_START_SECONDS,
    ) -> None:
        self.flags = flags
        self.command = tuple(command)
        self.port = port or free_port()
        self.env = dict(env or {})
        self.cwd = cwd
        self.start_seconds = start_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self._delete_log: Callable[[], object] | None = None
        if log is None:
            handle, name = tempfile.mkstemp(prefix="mockft-serve-", suffix=".log")
            os.close(handle)
            log = Path(name)
            self._delete_log = weakref.finalize(self, _delete, log)
        self.log = log

    @property
    def root_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    def argv(self) -> list[str]:
        return [*self.command, "serve", "--port", str(self.port), *self.flags]

    def start(self, *, wait: bool = True) -> ServeProcess:
        """Start the process (again, after `stop` or `kill9`), and wait until it is healthy."""
        if self.process is not None:
            raise MockFTError(f"mockft serve already runs on port {self.port}")
        environ = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                self.argv(),
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**environ, **self.env},
                cwd=self.cwd,
            )
        if wait:
            self.wait_healthy()
        return self

    def healthy(self) -> bool:
        """`/mockft/health` answers 200 now."""
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with no_proxy.open(self.root_url + HEALTH_PATH, timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def wait_healthy(self) -> None:
        process = self.process
        if process is None:
            raise MockFTError("mockft serve is not running")
        deadline = time.monotonic() + self.start_seconds
        while not self.healthy():
            if process.poll() is not None or time.monotonic() > deadline:
                raise MockFTError(f"mockft serve did not start: {self.argv()}\n{self.output()}")
            time.sleep(HEALTH_POLL_SECONDS)

    def output(self) -> str:
        """What the process wrote so far (stdout and stderr)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill9(self) -> int:
        """SIGKILL, as a crash; the exit code (`-SIGKILL`)."""
        process, self.process = self.process, None
        if process is None:
            raise MockFTError("mockft serve is not running")
        process.send_signal(signal.SIGKILL)
        return process.wait(timeout=PROCESS_STOP_SECONDS)

    def stop(self) -> int | None:
        """Terminate (a graceful shutdown); the exit code, None when it was not running.
        A process that does not exit in time is killed."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
        try:
            return process.wait(timeout=PROCESS_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise MockFTError(f"mockft serve did not stop:\n{self.output()}") from None

    def close(self) -> None:
        """Stop it if it runs; a temporary log is deleted."""
        try:
            self.stop()
        finally:
            if self._delete_log is not None:
                self._delete_log()

    def __enter__(self) -> ServeProcess:
        return self if self.process is not None else self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _delete(path: Path) -> None:
    path.unlink(missing_ok=True)


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


@functools.cache
def unused_tls() -> ssl.SSLContext:
    """A TLS context for clients of a plain-HTTP server (a live server, `mockft serve`): none
    is used, but an httpx client given none parses the CA bundle into one of its own (~25 ms
    of CPU each). One per process, for every such client to share."""
    import ssl

    return ssl.create_default_context()


class MockFTServer(MockFTControls):
    """The `mockft_server` fixture's handle: a live server reached over real HTTP."""

    def __init__(self, server: LiveServer, options: MockFTOptions | None = None) -> None:
        self.server = server
        self.options = options or MockFTOptions.of(server.settings)
        self.service = server.service
        self.app = server.app
        self.port = server.port
        self.root_url = server.root_url
        self.base_url = server.root_url + API_PREFIX
        self._closers: list[Any] = []

    def http_client(self, *, family: Family | None = None, **kwargs: Any) -> Any:
        """A sync client of the SDK's family (or of `family`) with the server's root as base
        URL and the API key set: for raw and control-API requests. Keywords go to the
        client (`base_url`, `headers`, `event_hooks`, `timeout`, ...)."""
        from mockft.transport import family_module, sdk_family

        kwargs.setdefault("base_url", self.root_url)
        kwargs.setdefault("headers", {"Authorization": f"Bearer {self.api_key}"})
        kwargs.setdefault("verify", unused_tls())
        client = family_module(family or sdk_family()).Client(**kwargs)
        self._closers.append(client.close)
        return client

    def openai(self, **kwargs: Any) -> OpenAI:
        import openai

        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("base_url", self.base_url)
        client = openai.OpenAI(**kwargs)
        self._closers.append(client.close)
        return client

    def async_openai(self, **kwargs: Any) -> AsyncOpenAI:
        import openai

        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("base_url", self.base_url)
        return openai.AsyncOpenAI(**kwargs)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self._closers.clear()
