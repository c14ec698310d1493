"""Shared fixtures: a mockft server per test, the official SDK and a raw HTTP client pointed
at it. Every response that passes through either client is checked against OpenAI's
OpenAPI description.

A test's server runs in this process: the app behind the plugin's in-process transports
(`mockft.pytest_plugin.MockFT`), no sockets, nothing to start or stop. A test that needs
real sockets (a raw socket, a dropped connection, a stream read as it arrives, a client
that makes its own connections) is marked `@pytest.mark.live`: its server is uvicorn in a
thread (`mockft.pytest_plugin.MockFTServer`). Both handles have the same members
(`.base_url`, `.root_url`, `.settings`, `.service`, `.advance()`, `.openai()`,
`.http_client()`, ...). Tests that need their own settings use `in_process(settings)` or
`live_server(settings)`; `mockft serve` as a process is `mockft.pytest_plugin.ServeProcess`
(see tests/serving.py).
"""

from __future__ import annotations

import asyncio
import compileall
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import mockft
from mockft.config import Settings
from mockft.pytest_plugin import LiveServer, MockFT, MockFTServer
from tests.openapi_contract import UnknownOperationError, check, schema_violations

if TYPE_CHECKING:  # the xdist controller imports this module too, and runs no test
    import httpx
    import openai

# Servers the tests start in subprocesses (many, one after another) skip loading the
# vocabularies at start-up: a test that counts tokens loads them when it first does.
# `ServeProcess` passes no MOCKFT_* variable on: the tests give theirs `env=NO_PRELOAD`.
NO_PRELOAD = {"MOCKFT_PRELOAD_VOCABULARIES": "0"}
os.environ.setdefault("MOCKFT_PRELOAD_VOCABULARIES", "0")

API_KEY = "sk-test-0123456789"
START = 1_750_000_000  # the manual clock's start in tests: runs are byte-identical
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LIVE = "live"  # the marker of tests whose server must listen on a real socket
# An in-process pytester run's arguments: mockft's plugin named, no other autoloaded. This
# suite rewrites only the plugins it names (pyproject's addopts), so pytest would warn about
# the others, and import them anew (~0.5 s) for every in-process run. Autoloading itself is
# proven in a process of its own (tests/test_pytest_plugin.py's fresh project).
ONLY_MOCKFT_PLUGIN = ("--disable-plugin-autoload", "-p", "mockft.pytest_plugin")

Server = MockFT | MockFTServer
"""What the `server` fixture gives: the app in this process, or live (`@pytest.mark.live`)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{LIVE}: the test's server listens on a real socket (uvicorn in a thread) instead "
        "of running in-process",
    )
    if not hasattr(config, "workerinput"):  # once: the controller, or the only process
        compile_mockft()


def compile_mockft() -> None:
    """mockft's bytecode, written once as pip writes an installed package's. The editable
    install has none, and where PYTHONDONTWRITEBYTECODE is set nothing caches it: each
    `mockft serve` and CLI process the suite starts (about 70) compiled every module of
    mockft from source, ~0.1 s of CPU each. Python reads what this writes (and ignores a
    file older than its source)."""
    compileall.compile_dir(Path(mockft.__file__).parent, quiet=1)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[None]:
    """The test modules, their asserts rewritten, are cached as pytest caches them by default
    (a pyc beside each, checked against the source's hash), even where PYTHONDONTWRITEBYTECODE
    is set: without it every process that collects (each xdist worker) rewrote and compiled
    all ~100 test modules from source, ~4 s of CPU each. Only what collection imports is
    cached; a test's own imports follow the environment."""
    writes = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        return (yield)
    finally:
        sys.dont_write_bytecode = writes


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "clock": "manual",
        "seed": 7,
        "start_time": START,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def in_process(settings: Settings) -> Iterator[MockFT]:
    """The app of `settings` in this process, reached without sockets."""
    handle = MockFT(settings=settings)
    try:
        yield handle
    finally:
        handle.close()


@contextmanager
def live_server(settings: Settings) -> Iterator[MockFTServer]:
    """The app of `settings` served by uvicorn in a thread, on a port the OS picked."""
    server = LiveServer(settings).start()
    handle = MockFTServer(server)
    try:
        yield handle
    finally:
        try:
            handle.close()
        finally:
            server.stop()


@contextmanager
def serving(settings: Settings, *, live: bool = False) -> Iterator[Server]:
    with live_server(settings) if live else in_process(settings) as handle:
        yield handle


def wants_live(request: pytest.FixtureRequest) -> bool:
    """The requesting test is marked `@pytest.mark.live`."""
    return request.node.get_closest_marker(LIVE) is not None


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with serving(make_settings(tmp_path), live=wants_live(request)) as handle:
        yield handle


def _check_hook(response: Any) -> None:
    response.read()
    try:
        check(response)
    except UnknownOperationError:
        # Not an OpenAI operation (an unknown URL): it must still be the error envelope.
        assert response.status_code >= 400, response.request.url
        body = response.json()
        assert schema_violations("ErrorResponse", body) == []
        assert set(body["error"]) == {"message", "type", "param", "code"}


CHECKED = {"response": [_check_hook]}


def checked_http(server: Server, key: str = API_KEY) -> httpx.Client:
    """Raw HTTP (httpx) on the API's base URL with the key set; every response is checked
    against the spec."""
    client: httpx.Client = server.http_client(
        family="httpx",
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {key}"},
        event_hooks=CHECKED,
        timeout=30,
    )
    return client


def raw_http(server: Server, key: str | None = None, **kwargs: Any) -> httpx.Client:
    """Raw HTTP (httpx) on the API's base URL (or `base_url=`), not checked against the spec:
    for requests the spec does not describe. `key` is sent as the bearer token (none: no
    Authorization header); absolute URLs of the server work too."""
    kwargs.setdefault("base_url", server.base_url)
    kwargs.setdefault("headers", {} if key is None else {"Authorization": f"Bearer {key}"})
    client: httpx.Client = server.http_client(family="httpx", **kwargs)
    return client


def checked_sdk(server: Server, **kwargs: Any) -> openai.OpenAI:
    """The unchanged official SDK (keywords to `openai.OpenAI`), its responses spec-checked."""
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("max_retries", 0)
    return server.openai(http_client=server.http_client(event_hooks=CHECKED), **kwargs)


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with checked_http(server) as client:
        yield client


@pytest.fixture
def client(server: Server) -> Iterator[openai.OpenAI]:
    """The unchanged official SDK, but for base_url; its responses are spec-checked too."""
    with checked_sdk(server) as sdk:
        yield sdk


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    """Clients (or anything else) to close when the test ends."""
    with ExitStack() as clients:
        yield clients


def running_a_loop() -> bool:
    """Whether the calling thread is running an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def calls_on_a_loop(
    monkeypatch: pytest.MonkeyPatch,
    owner: object,
    name: str,
    only: Callable[..., bool] | None = None,
) -> list[bool]:
    """`owner.name` wrapped for the test: each call (each one `only` accepts) appends
    whether it ran on an event loop to the list returned, then does what it did."""
    on_a_loop: list[bool] = []
    real = getattr(owner, name)

    def recording(*args: Any, **kwargs: Any) -> Any:
        if only is None or only(*args, **kwargs):
            on_a_loop.append(running_a_loop())
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return on_a_loop
