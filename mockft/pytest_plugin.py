"""The mockft pytest plugin, registered as a `pytest11` entry point: installing mockft is
all the set-up.

- `mockft`: a fresh in-process app per test (manual clock, memory store, no sockets) and a
  handle to drive it: SDK clients wired in-process, the clock, jobs, chaos, the request log.
- `mockft_server`: a live uvicorn server on a free port (one per configuration per
  process, so one per pytest-xdist worker), state reset before each test, with
  `OPENAI_BASE_URL` / `OPENAI_API_KEY` pointing at it for the test's duration.

Both read `@pytest.mark.mockft(seed=..., clock=..., speed=..., start_time=...)` and the
`--mockft-*` options. This module is imported by every pytest run in an environment where
mockft is installed, so it imports the app, the SDK and their dependencies only when a
fixture is used.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import uvicorn
    from openai import AsyncOpenAI, AzureOpenAI, OpenAI
    from openai.types.fine_tuning import FineTuningJob
    from starlette.applications import Starlette

    from mockft.chaos import Chaos, ChaosRule, LoggedRequest, RequestLog
    from mockft.config import Settings
    from mockft.job_record import JobView
    from mockft.service import Service
    from mockft.transport import Family, Portal

MARKER = "mockft"
OPTION_NAMES = ("seed", "clock", "speed", "start_time")
DEFAULT_SEED = 0
DEFAULT_CLOCK = "manual"
# Where every test's manual clock starts (2023-11-14T22:13:20Z), so runs are byte-identical.
DEFAULT_START_TIME = 1_700_000_000
DEFAULT_API_KEY = "sk-mockft-test"
# The in-process app's address: never resolved, nothing leaves the process.
IN_PROCESS_ROOT = "http://mockft.test"
API_PREFIX = "/v1"
LOOPBACK = "127.0.0.1"
# run_until_done: how far the manual clock moves per look while a job validates (the end
# of validation is not announced in advance), and a bound on the looks.
VALIDATION_STEP_SECONDS = 1
MAX_ROUNDS = 100_000
# run_until_done under the system clock: real seconds between looks, and how long to wait.
POLL_SECONDS = 0.01
DEFAULT_WAIT_SECONDS = 60.0
SERVER_START_SECONDS = 10.0
SERVER_STOP_SECONDS = 10.0


class MockFTError(Exception):
    """A handle operation that cannot be done (e.g. waiting on a paused job)."""


@dataclass(frozen=True)
class MockFTOptions:
    """What a test may choose: defaults < `--mockft-*` options < the `mockft` marker."""

    seed: int = DEFAULT_SEED
    clock: str = DEFAULT_CLOCK
    speed: float | None = None
    start_time: int = DEFAULT_START_TIME

    def settings(self, **overrides: Any) -> Settings:
        from mockft.config import Settings

        values: dict[str, Any] = {
            "memory": True,
            "clock": self.clock,
            "seed": self.seed,
            "start_time": self.start_time,
        }
        if self.speed is not None:
            values["speed"] = self.speed
        return Settings(**values, **overrides)


def options_for(config: pytest.Config, node: pytest.Item | None = None) -> MockFTOptions:
    values: dict[str, Any] = {}
    for name in OPTION_NAMES:
        given = config.getoption(f"mockft_{name}")
        if given is not None:
            values[name] = given
    marker = node.get_closest_marker(MARKER) if node is not None else None
    if marker is not None:
        unknown = sorted(set(marker.kwargs) - set(OPTION_NAMES))
        if marker.args or unknown:
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER} takes only keyword arguments among "
                f"{', '.join(OPTION_NAMES)}; got {list(marker.args) + unknown}"
            )
        values.update(marker.kwargs)
    return MockFTOptions(**values)


# --- the handles -------------------------------------------------------------------------


class MockFTControls:
    """What both fixtures' handles share: the clock, jobs, chaos and the request log of one
    app, driven directly (no HTTP) from the test's thread."""

    app: Starlette
    service: Service
    options: MockFTOptions
    api_key: str = DEFAULT_API_KEY
    base_url: str

    @property
    def settings(self) -> Settings:
        return self.service.settings

    # clock

    def now(self) -> float:
        return self.service.clock.now()

    def advance(self, seconds: float) -> float:
        """Move the manual clock forward; returns the new now."""
        return self.service.clock.advance(seconds)

    # jobs

    def job(self, job_id: str) -> FineTuningJob:
        """The job as the SDK would return it, whichever organization owns it."""
        return _sdk_job(self._job_view(job_id))

    def _job_view(self, job_id: str) -> dict[str, Any]:
        from mockft.wire import jobs as wire

        org, _ = self.service.jobs.find(job_id)
        return wire.job(self.service.jobs.get(org, job_id))

    def run_until_done(
        self, job_id: str, *, timeout: float = DEFAULT_WAIT_SECONDS
    ) -> FineTuningJob:
        """Let the job run to its end and return it (succeeded, failed or cancelled).

        With the manual clock, the clock moves to the instant the job ends: to the earliest
        instant validation can end, then straight to the end the job's timeline plans (the
        API's `estimated_finish` is null, as on the real service). With the system clock,
        waits (at most `timeout` real seconds)."""
        from mockft import lifecycle

        if self.service.clock.mode != "manual":
            return self._wait_until_done(job_id, timeout)
        for _ in range(MAX_ROUNDS):
            job = self._job_view(job_id)
            status = job["status"]
            if lifecycle.is_terminal(status):
                return _sdk_job(job)
            if status == lifecycle.PAUSED:
                raise MockFTError(f"Job {job_id} is paused: resume it before running it on.")
            now = self.now()
            org, _ = self.service.jobs.find(job_id)
            end = self.service.jobs.expected_end(org, job_id)
            if end is None and status == lifecycle.VALIDATING_FILES:
                # Validation never ends sooner than its base duration after creation.
                end = job["created_at"] + int(lifecycle.VALIDATION_BASE_SECONDS)
            target = end or now
            self.advance(max(target - now, VALIDATION_STEP_SECONDS))
        raise MockFTError(f"Job {job_id} did not finish within {MAX_ROUNDS} clock moves.")

    def _wait_until_done(self, job_id: str, timeout: float) -> FineTuningJob:
        from mockft import lifecycle

        deadline = time.monotonic() + timeout
        while True:
            job = self._job_view(job_id)
            status = job["status"]
            if lifecycle.is_terminal(status):
                return _sdk_job(job)
            if status == lifecycle.PAUSED:
                raise MockFTError(f"Job {job_id} is paused: resume it before waiting for it.")
            if time.monotonic() > deadline:
                raise MockFTError(f"Job {job_id} is still {status} after {timeout:g} s.")
            time.sleep(POLL_SECONDS)

    def fail_job(
        self,
        job_id: str,
        code: str | None = None,
        message: str | None = None,
        param: str | None = None,
        *,
        at_step: int | None = None,
        in_state: str | None = None,
    ) -> FineTuningJob:
        """The job fails with this error (default: the service's internal error): now, or
        when step `at_step` ends, or when it enters `in_state` ("queued", "running")."""
        from mockft import lifecycle
        from mockft.service.jobs import FailurePoint

        error = lifecycle.JobError(
            code=code or lifecycle.DEFAULT_FAILURE_CODE,
            message=message or lifecycle.DEFAULT_FAILURE_MESSAGE,
            param=param,
        )
        when = None
        if at_step is not None or in_state is not None:
            when = FailurePoint(step=at_step, state=in_state)
        org, _ = self.service.jobs.find(job_id)
        job = self.service.jobs.intervene(org, job_id, lifecycle.FAIL, error, when)
        return _sdk_job(job)

    def hold_job(self, job_id: str) -> FineTuningJob:
        """Freeze the job in its state (validating, queued, running) until `release_job`."""
        return self._control(job_id, "hold")

    def release_job(self, job_id: str) -> FineTuningJob:
        return self._control(job_id, "release")

    def _control(self, job_id: str, kind: str) -> FineTuningJob:
        org, _ = self.service.jobs.find(job_id)
        return _sdk_job(self.service.jobs.intervene(org, job_id, kind))

    def complete_job(self, job_id: str) -> FineTuningJob:
        """The job succeeds now, producing everything a success produces."""
        from mockft import lifecycle

        org, _ = self.service.jobs.find(job_id)
        return _sdk_job(self.service.jobs.intervene(org, job_id, lifecycle.COMPLETE))

    # chaos and the request log

    @property
    def chaos_rules(self) -> Chaos:
        chaos: Chaos = self.app.state.chaos
        return chaos

    def chaos(self, **rule: Any) -> ChaosRule:
        """Add a fault-injection rule; the keywords are those of `POST /mockft/chaos`
        (path, path_regex, method, times, probability, seed, status, message, retry_after,
        retry_after_ms, should_retry, latency_ms, drop, timeout, hold_seconds)."""
        return self.chaos_rules.add_from(rule)

    def clear_chaos(self) -> int:
        return self.chaos_rules.clear()

    @property
    def request_log(self) -> RequestLog:
        log: RequestLog = self.app.state.requests
        return log

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request outside the control API so far, oldest first: method, path,
        status (None when no response was sent), whether chaos answered it."""
        return self.request_log.entries()

    def clear_requests(self) -> int:
        return self.request_log.clear()

    def reset(self) -> None:
        """Back to a fresh app: no objects, no chaos rules, an empty request log, and a
        manual clock at its start time (so ids and timestamps repeat exactly)."""
        from mockft.clock import ManualClock

        self.service.reset()
        self.clear_chaos()
        self.clear_requests()
        clock = self.service.clock.clock
        if isinstance(clock, ManualClock):
            clock.set(self.options.start_time)
            self.service.clock.save()


def _sdk_job(view: dict[str, Any] | JobView) -> FineTuningJob:
    from openai.types.fine_tuning import FineTuningJob

    from mockft.wire import jobs as wire

    body = view if isinstance(view, dict) else wire.job(view)
    # construct(): lenient like the SDK's own parsing (e.g. status "paused").
    return FineTuningJob.construct(**body)


class MockFT(MockFTControls):
    """The `mockft` fixture's handle: an app in this process, reached without sockets."""

    base_url = IN_PROCESS_ROOT + API_PREFIX

    def __init__(self, options: MockFTOptions | None = None) -> None:
        from mockft.app import create_app
        from mockft.service import Service
        from mockft.transport import Portal

        self.options = options or MockFTOptions()
        settings = self.options.settings()
        self.service = Service.open(settings)
        self.app = create_app(settings, self.service)
        self._portal: Portal = Portal()
        self._closers: list[Any] = []
        self._family: Family | None = None

    @property
    def family(self) -> Family:
        """The HTTP client family of the installed openai SDK (`httpx` or `httpx2`)."""
        if self._family is None:
            from mockft.transport import sdk_family

            self._family = sdk_family()
        return self._family

    def http_client(self) -> Any:
        """A sync client of the SDK's family (`httpx.Client` or `httpx2.Client`) with this
        app's root as base URL and the API key set: for raw and control-API requests."""
        from mockft.transport import transport

        client_class = _family_module(self.family).Client
        client = client_class(
            base_url=IN_PROCESS_ROOT,
            headers={"Authorization": f"Bearer {self.api_key}"},
            transport=transport(self.app, self._portal, self.family),
        )
        self._closers.append(client.close)
        return client

    def openai(self, **kwargs: Any) -> OpenAI:
        """The official SDK client, wired to this app in-process. Keywords go to
        `openai.OpenAI` (e.g. `max_retries`, `timeout`)."""
        import openai

        from mockft.transport import transport

        http = openai.DefaultHttpxClient(transport=transport(self.app, self._portal, self.family))
        kwargs.setdefault("api_key", self.api_key)
        client = openai.OpenAI(base_url=self.base_url, http_client=http, **kwargs)
        self._closers.append(client.close)
        return client

    def azure_openai(self, **kwargs: Any) -> AzureOpenAI:
        """The SDK's `AzureOpenAI` client on this app's Azure paths, wired in-process: the key
        in the `api-key` header (or pass `azure_ad_token=`), the newest GA `api_version`.
        Keywords go to `openai.AzureOpenAI`. See docs/azure.md."""
        import openai

        from mockft.azure.versions import LATEST_GA
        from mockft.transport import transport

        http = openai.DefaultHttpxClient(transport=transport(self.app, self._portal, self.family))
        if "azure_ad_token" not in kwargs and "azure_ad_token_provider" not in kwargs:
            kwargs.setdefault("api_key", self.api_key)
        if "base_url" not in kwargs:
            kwargs.setdefault("azure_endpoint", IN_PROCESS_ROOT)
        kwargs.setdefault("api_version", LATEST_GA)
        client = openai.AzureOpenAI(http_client=http, **kwargs)
        self._closers.append(client.close)
        return client

    def async_openai(self, **kwargs: Any) -> AsyncOpenAI:
        """The async SDK client, wired to this app on the caller's event loop."""
        import openai

        from mockft.transport import async_transport

        http = openai.DefaultAsyncHttpxClient(transport=async_transport(self.app, self.family))
        kwargs.setdefault("api_key", self.api_key)
        return openai.AsyncOpenAI(base_url=self.base_url, http_client=http, **kwargs)

    def close(self) -> None:
        """Close the clients, stop the helper event loop, close the service (what the app's
        lifespan does on shutdown)."""
        try:
            for close in reversed(self._closers):
                close()
            self._closers.clear()
            self._portal.close()
        finally:
            self.service.close()


def _family_module(family: Family) -> Any:
    if family == "httpx2":
        import httpx2

        return httpx2
    import httpx

    return httpx


class LiveServer:
    """A mockft server under uvicorn in a daemon thread, on a port the OS picked."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from mockft.app import create_app
        from mockft.service import Service

        self.service = Service.open(settings)
        self.app = create_app(settings, self.service)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((LOOPBACK, 0))
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on")
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
        from mockft.transport import sdk_family

        client = _family_module(sdk_family()).Client(
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
    "MockFT",
    "MockFTControls",
    "MockFTError",
    "MockFTOptions",
    "MockFTServer",
    "ServerPool",
]
