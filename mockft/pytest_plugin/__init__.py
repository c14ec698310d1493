"""The mockft pytest plugin, registered as a `pytest11` entry point: installing mockft is
all the set-up.

- `mockft`: a fresh in-process app per test (manual clock, memory store, no sockets) and a
  handle to drive it: SDK clients wired in-process, the clock, jobs, chaos, the request log.
- `mockft_server`: a live uvicorn server on a free port (one per configuration per
  process, so one per pytest-xdist worker), state reset before each test, with
  `OPENAI_BASE_URL` / `OPENAI_API_KEY` pointing at it for the test's duration.

Both read `@pytest.mark.mockft(seed=..., clock=..., speed=..., start_time=...)` and the
`--mockft-*` options. This package is imported by every pytest run in an environment where
mockft is installed, so it imports the app, the SDK and their dependencies only when a
fixture is used.

One concept per module: `options` (what a test chooses), `controls` (what both handles
drive: the service's control backend), `inprocess` (the `mockft` handle), `live` (live
servers, in a thread or a `mockft serve` process, and the `mockft_server` handle).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockft.pytest_plugin.controls import MockFTControls, MockFTError
from mockft.pytest_plugin.inprocess import MockFT
from mockft.pytest_plugin.live import LiveServer, MockFTServer, ServeProcess, ServerPool
from mockft.pytest_plugin.options import (
    DEFAULT_API_KEY,
    DEFAULT_CLOCK,
    DEFAULT_SEED,
    DEFAULT_START_TIME,
    MARKER,
    OPTION_NAMES,
    MockFTOptions,
    options_for,
)

# --- pytest hooks and fixtures -----------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockft", "mockft: the OpenAI fine-tuning API mock")
    group.addoption("--mockft-seed", type=int, default=None, help=f"seed (default {DEFAULT_SEED})")
    group.addoption(
        "--mockft-clock",
        choices=["manual", "system"],
        default=None,
        help=f"clock of the mockft fixtures (default {DEFAULT_CLOCK})",
    )
    group.addoption(
        "--mockft-speed",
        type=float,
        default=None,
        help="virtual seconds per real second with the system clock (default as mockft serve)",
    )
    group.addoption(
        "--mockft-start-time",
        type=int,
        default=None,
        help=f"unix time the manual clock starts at (default {DEFAULT_START_TIME})",
    )
    group.addoption(
        "--mockft-scenario",
        action="append",
        default=None,
        help="scenario file the mockft fixtures start with, repeatable (docs/scenarios.md)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}({', '.join(f'{name}=...' for name in OPTION_NAMES)}): "
        "configure the mockft and mockft_server fixtures for this test",
    )


@pytest.fixture
def mockft(request: pytest.FixtureRequest) -> Iterator[MockFT]:
    """A fresh in-process mockft app (manual clock, memory store, no sockets) and its
    handle: `.openai()`, `.advance()`, `.run_until_done()`, `.chaos()`, ..."""
    handle = MockFT(options_for(request.config, request.node))
    try:
        yield handle
    finally:
        handle.close()


@pytest.fixture(scope="session")
def mockft_server_pool() -> Iterator[ServerPool]:
    """The live servers of this process (pytest-xdist: of this worker)."""
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def mockft_server(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    mockft_server_pool: ServerPool,
) -> Iterator[MockFTServer]:
    """A live mockft server on a free port, reset for this test, with OPENAI_BASE_URL and
    OPENAI_API_KEY pointing at it while the test runs."""
    options = options_for(request.config, request.node)
    handle = MockFTServer(mockft_server_pool.get(options), options)
    handle.reset()
    monkeypatch.setenv("OPENAI_BASE_URL", handle.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", handle.api_key)
    try:
        yield handle
    finally:
        handle.close()


__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_START_TIME",
    "LiveServer",
    "MockFT",
    "MockFTControls",
    "MockFTError",
    "MockFTOptions",
    "MockFTServer",
    "ServeProcess",
    "ServerPool",
]
