"""The pytest plugin as users meet it: a fresh project's tests (run by pytester through the
installed entry point), the `mockft` handle, the live `mockft_server`, options and markers."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from mockft import errors
from mockft.pytest_plugin import (
    DEFAULT_START_TIME,
    MockFT,
    MockFTError,
    MockFTOptions,
    MockFTServer,
    ServerPool,
)
from mockft.transport import Portal, sdk_family, transport
from tests.conftest import ONLY_MOCKFT_PLUGIN

pytest_plugins = ["pytester"]

TRAINING = (Path(__file__).resolve().parent.parent / "fixtures" / "train_chat.jsonl").read_bytes()
MODEL = "gpt-4o-mini"
RUN_TIMEOUT = 120  # seconds, for the subprocess pytest runs


def start_job(mockft: MockFT | MockFTServer, **create: Any) -> str:
    client = mockft.openai()
    training = client.files.create(file=("train.jsonl", TRAINING), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=training.id, **create)
    return job.id


# --- a fresh project ---------------------------------------------------------------------


def test_installing_mockft_registers_the_plugin() -> None:
    plugins = importlib.metadata.entry_points(group="pytest11")
    assert [p.value for p in plugins if p.name == "mockft"] == ["mockft.pytest_plugin"]


def test_the_plugin_imports_nothing_heavy_until_a_fixture_is_used() -> None:
    probe = (
        "import sys, mockft.pytest_plugin; "
        "print(sorted(m for m in ('openai', 'starlette', 'pydantic', 'mockft.app') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# The pytest plugins our test extras install beside mockft's (hypothesis, schemathesis,
# faker, xdist): a user's fresh project has none of them.
UNRELATED_PLUGINS = ("hypothesispytest", "schemathesis", "faker", "xdist", "xdist.looponfail")

FRESH_PROJECT_TEST = """
    import json

    EXAMPLES = [
        {"messages": [
            {"role": "user", "content": f"What is {i} + {i}?"},
            {"role": "assistant", "content": f"{i + i}, obviously."},
        ]}
        for i in range(12)
    ]

    def test_x(mockft):
        client = mockft.openai()
        data = "".join(json.dumps(e) + "\\n" for e in EXAMPLES).encode()
        training = client.files.create(file=("train.jsonl", data), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)

        done = mockft.run_until_done(job.id)

        assert done.status == "succeeded"
        assert done.fine_tuned_model.startswith("ft:gpt-4o-mini")
        events = client.fine_tuning.jobs.list_events(job.id)
        assert events.data[0].message == "The job has successfully completed"
"""


def test_a_fresh_project_gets_a_client_and_drives_a_job_to_success(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(FRESH_PROJECT_TEST)
    # Plugins are loaded as installed (so mockft's by its entry point), less those of the
    # test extras a fresh project would not have: they take seconds to import.
    others = [arg for name in UNRELATED_PLUGINS for arg in ("-p", f"no:{name}")]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *others, "-W", "error")
    result.assert_outcomes(passed=1)


def test_options_and_markers_configure_the_app(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_options(mockft):
            assert mockft.settings.seed == 7
            assert mockft.now() == 1_800_000_000
            assert mockft.service.clock.mode == "manual"

        @pytest.mark.mockft(seed=3, clock="system", speed=500)
        def test_marker(mockft):
            assert mockft.settings.seed == 3
            assert mockft.service.clock.mode == "system"
            assert mockft.service.clock.clock.speed == 500

        @pytest.mark.mockft(colour="red")
        def test_unknown_marker_argument(mockft):
            pass
        """
    )
    result = pytester.runpytest(
        *ONLY_MOCKFT_PLUGIN,
        "--strict-markers",
        "--mockft-seed",
        "7",
        "--mockft-start-time",
        "1800000000",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*mockft takes only keyword arguments among*colour*"])


def test_the_options_are_documented_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*ONLY_MOCKFT_PLUGIN, "--help")
    result.stdout.fnmatch_lines(["*--mockft-seed*", "*--mockft-clock*", "*--mockft-speed*"])
    markers = pytester.runpytest(*ONLY_MOCKFT_PLUGIN, "--markers")
    markers.stdout.fnmatch_lines(["*@pytest.mark.mockft(seed=..., clock=...*"])


# --- the in-process handle ---------------------------------------------------------------


def test_run_until_done_moves_the_clock_to_the_jobs_end(mockft: MockFT) -> None:
    job_id = start_job(mockft, suffix="marv")
    assert mockft.now() == DEFAULT_START_TIME

    done = mockft.run_until_done(job_id)

    assert done.status == "succeeded"
    assert done.finished_at == mockft.now()
    assert done.fine_tuned_model is not None and ":marv:" in done.fine_tuned_model
    client = mockft.openai()
    assert client.models.retrieve(done.fine_tuned_model).id == done.fine_tuned_model
    assert client.fine_tuning.jobs.retrieve(job_id).status == "succeeded"


def test_run_until_done_returns_a_job_that_fails_validation(mockft: MockFT) -> None:
    client = mockft.openai()
    few = b"".join(TRAINING.splitlines(keepends=True)[:3])
    training = client.files.create(file=("few.jsonl", few), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=training.id)

    done = mockft.run_until_done(job.id)

    assert done.status == "failed"
    assert done.error is not None and done.error.code
    assert done.finished_at is None  # a job that fails validation has none (real API)
    events = mockft.openai().fine_tuning.jobs.list_events(job.id).data
    assert events[0].level == "error" and events[0].created_at == mockft.now()


def test_fail_job_at_a_step_and_hold_release(mockft: MockFT) -> None:
    job_id = start_job(mockft)
    armed = mockft.fail_job(job_id, "server_error", "boom", at_step=2)
    assert armed.status != "failed"
    held = mockft.hold_job(job_id)
    mockft.advance(30 * 24 * 3600)
    assert mockft.job(job_id).status == held.status
    mockft.release_job(job_id)
    done = mockft.run_until_done(job_id)
    assert done.status == "failed"
    assert done.error is not None and done.error.message == "boom"


def test_fail_job_fails_it_now_with_the_error(mockft: MockFT) -> None:
    job_id = start_job(mockft)
    failed = mockft.fail_job(job_id, "quota_exceeded", "You exceeded your current quota.")
    assert failed.status == "failed"
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == (
        "quota_exceeded",
        "You exceeded your current quota.",
    )
    seen = mockft.openai().fine_tuning.jobs.retrieve(job_id)
    assert seen.status == "failed" and seen.error is not None
    assert seen.error.code == "quota_exceeded"
    assert mockft.run_until_done(job_id).status == "failed"


def test_complete_job_succeeds_now_with_everything_a_success_produces(mockft: MockFT) -> None:
    job_id = start_job(mockft)
    done = mockft.complete_job(job_id)
    assert done.status == "succeeded"
    assert done.finished_at == mockft.now() == DEFAULT_START_TIME
    assert len(done.result_files) == 1
    content = mockft.openai().files.content(done.result_files[0])
    assert content.read()


def test_a_paused_job_cannot_be_run_to_its_end(mockft: MockFT) -> None:
    job_id = start_job(mockft)
    client = mockft.openai()
    while mockft.job(job_id).status != "running":
        mockft.advance(10)
    client.fine_tuning.jobs.pause(job_id)
    with pytest.raises(MockFTError, match="is paused"):
        mockft.run_until_done(job_id)
    client.fine_tuning.jobs.resume(job_id)
    assert mockft.run_until_done(job_id).status == "succeeded"


def test_advance_moves_the_manual_clock_forward_only(mockft: MockFT) -> None:
    assert mockft.advance(90) == DEFAULT_START_TIME + 90
    assert mockft.now() == DEFAULT_START_TIME + 90
    with pytest.raises(errors.APIError) as backwards:
        mockft.advance(-1)
    assert backwards.value.param == "seconds"


def test_reset_returns_to_a_fresh_app(mockft: MockFT) -> None:
    client = mockft.openai()
    first = client.files.create(file=("train.jsonl", TRAINING), purpose="fine-tune")
    mockft.advance(3600)
    mockft.chaos(status=500, path="/nowhere")

    mockft.reset()

    assert client.files.list().data == []
    assert mockft.now() == DEFAULT_START_TIME
    assert mockft.chaos_rules.rules() == []
    assert [r.path for r in mockft.requests] == ["/v1/files"]  # logged after the reset
    again = client.files.create(file=("train.jsonl", TRAINING), purpose="fine-tune")
    assert (again.id, again.created_at) == (first.id, first.created_at)


def run_a_job(options: MockFTOptions) -> tuple[dict[str, object], list[str]]:
    handle = MockFT(options)
    try:
        job_id = start_job(handle)
        done = handle.run_until_done(job_id)
        events = handle.openai().fine_tuning.jobs.list_events(job_id, limit=100)
        return done.model_dump(), [e.message for e in events.data]
    finally:
        handle.close()


def test_the_same_seed_gives_the_same_run() -> None:
    assert run_a_job(MockFTOptions(seed=11)) == run_a_job(MockFTOptions(seed=11))
    assert run_a_job(MockFTOptions(seed=11))[0]["id"] != run_a_job(MockFTOptions(seed=12))[0]["id"]


def test_in_process_clients_open_no_sockets(
    mockft: MockFT, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("mockft's in-process client opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert mockft.base_url == "http://mockft.test/v1"
    assert mockft.run_until_done(start_job(mockft)).status == "succeeded"
    assert mockft.http_client().get("/mockft/health").json()["status"] == "ok"


def test_the_async_client_runs_in_process_on_the_callers_loop(mockft: MockFT) -> None:
    async def flow() -> tuple[str, int]:
        client = mockft.async_openai()
        try:
            training = await client.files.create(
                file=("train.jsonl", TRAINING), purpose="fine-tune"
            )
            job = await client.fine_tuning.jobs.create(model=MODEL, training_file=training.id)
            page = await client.fine_tuning.jobs.list()
            return job.id, len(page.data)
        finally:
            await client.close()

    job_id, listed = asyncio.run(flow())
    assert listed == 1
    assert mockft.run_until_done(job_id).status == "succeeded"


def test_closing_the_handle_closes_its_clients_and_service() -> None:
    handle = MockFT()
    client = handle.openai()
    assert client.models.list().data
    handle.close()
    assert client.is_closed()
    with pytest.raises(Exception, match="closed"):
        handle.service.store.get_meta("anything")


def test_the_sdk_family_follows_the_installed_openai() -> None:
    major = int(openai.__version__.split(".")[0])
    assert sdk_family() == ("httpx2" if major >= 3 else "httpx")


def test_the_httpx_family_transport_serves_the_sdk_too(mockft: MockFT) -> None:
    """openai 1.x/2.x clients are httpx clients; openai 3.x accepts them as well, so the
    httpx transports are exercised here whichever SDK line is installed."""
    portal = Portal()
    try:
        http = httpx.Client(transport=transport(mockft.app, portal, "httpx"))
        with openai.OpenAI(
            base_url=mockft.base_url, api_key="sk-x", http_client=http, max_retries=0
        ) as client:
            assert client.models.retrieve(MODEL).id == MODEL
            mockft.chaos(drop=True, times=1)
            with pytest.raises(openai.APIConnectionError):
                client.models.list()
            mockft.chaos(timeout=True, times=1)
            with pytest.raises(openai.APITimeoutError):
                client.with_options(timeout=0.05).models.list()
            mockft.chaos(status=429, times=1, retry_after_ms=1)
            assert client.with_options(max_retries=1).models.list().data
    finally:
        portal.close()
    assert [r.status for r in mockft.requests] == [200, None, None, 429, 200]


# --- the live server ---------------------------------------------------------------------


def test_the_live_server_is_where_the_environment_points(mockft_server: MockFTServer) -> None:
    assert os.environ["OPENAI_BASE_URL"] == mockft_server.base_url
    assert mockft_server.base_url.startswith("http://127.0.0.1:")
    with openai.OpenAI() as client:  # configured by the environment alone
        training = client.files.create(file=("train.jsonl", TRAINING), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model=MODEL, training_file=training.id)
        assert mockft_server.run_until_done(job.id).status == "succeeded"
        assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"
    raw = httpx.get(mockft_server.root_url + "/mockft/health")
    assert raw.json()["status"] == "ok"


def test_the_live_servers_clients_share_one_tls_context(
    mockft_server: MockFTServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server speaks plain HTTP: its clients do not each parse the CA bundle into a TLS
    context of their own (~25 ms of CPU a client, which a suite pays per test)."""
    loaded: list[bool] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(context: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loaded.append(True)
        load(context, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    for family in ("httpx", sdk_family(), None):  # httpx2 where the SDK is built on it
        with mockft_server.http_client(family=family) as client:
            assert client.get("/mockft/health").json()["status"] == "ok"
    assert len(loaded) <= 1  # the one they share, unless an earlier test made it


@pytest.mark.mockft(clock="system", speed=200_000)
def test_a_system_clock_server_runs_jobs_in_real_time(mockft_server: MockFTServer) -> None:
    assert mockft_server.service.clock.mode == "system"
    job_id = start_job(mockft_server)
    assert mockft_server.run_until_done(job_id).status == "succeeded"


def test_the_live_server_is_reset_before_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import openai
        seen = {}

        def test_one(mockft_server):
            with openai.OpenAI() as client:
                made = client.files.create(file=("a.jsonl", b'{"a": 1}\\n'), purpose="batch")
            mockft_server.advance(100)
            mockft_server.chaos(status=500, path="/v1/models")
            seen.update(id=made.id, port=mockft_server.port, now=mockft_server.now())

        def test_two(mockft_server):
            assert mockft_server.port == seen["port"]  # one server for the session
            assert mockft_server.now() == seen["now"] - 100
            assert mockft_server.requests == []
            with openai.OpenAI() as client:
                assert client.files.list().data == []
                assert client.models.list().data  # the chaos rule went with the reset
                made = client.files.create(file=("a.jsonl", b'{"a": 1}\\n'), purpose="batch")
            assert made.id == seen["id"]  # the same ids, whatever ran before
        """
    )
    pytester.runpytest(*ONLY_MOCKFT_PLUGIN).assert_outcomes(passed=2)


def test_the_pool_keeps_one_server_per_configuration() -> None:
    pool = ServerPool()
    try:
        first = pool.get(MockFTOptions(seed=1))
        assert pool.get(MockFTOptions(seed=1)) is first
        other = pool.get(MockFTOptions(seed=2))
        assert other is not first and other.port != first.port
        assert httpx.get(first.root_url + "/mockft/health").status_code == 200
    finally:
        pool.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(first.root_url + "/mockft/health")


def test_parallel_pytest_processes_each_get_their_own_server(pytester: pytest.Pytester) -> None:
    """What pytest-xdist does: one session, so one server, per worker process."""
    pytester.makepyfile(
        test_worker="""
        import openai

        def test_worker(mockft_server):
            with openai.OpenAI() as client:
                made = client.files.create(file=("a.jsonl", b'{"a": 1}\\n'), purpose="batch")
                assert [f.id for f in client.files.list().data] == [made.id]
            print("served by", mockft_server.base_url)
        """
    )
    # Only this plugin (the entry point is tested above): the others take seconds to import.
    command = [sys.executable, "-m", "pytest", "-p", "mockft.pytest_plugin", "-s", "-W", "error"]
    quick = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    workers = [
        subprocess.Popen(
            [*command, "-p", "no:cacheprovider", "test_worker.py"],
            cwd=pytester.path,
            env=quick,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=RUN_TIMEOUT)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert all("1 passed" in out and "served by http://127.0.0.1:" in out for out in outputs)


def test_the_env_is_restored_after_a_server_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os

        def test_with_server(mockft_server):
            assert os.environ["OPENAI_API_KEY"] == mockft_server.api_key

        def test_after():
            assert os.environ.get("OPENAI_BASE_URL") == "http://elsewhere/v1"
        """
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_BASE_URL", "http://elsewhere/v1")
        pytester.runpytest(*ONLY_MOCKFT_PLUGIN).assert_outcomes(passed=2)
