"""Limits a hostile or careless client meets: the size of a JSON body (refused early, as
the real API's edge does), filenames, metadata filters, URLs with a trailing slash, empty
key lists, and error messages that quote no more than an excerpt of the input and word
problems as the real API does (never Python's `True`, `None` or `0.0`). And the limits the
real service puts on jobs: how many a day, how many at once."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.fine_tuning import FineTuningJob

from mockft import queueing
from tests.conftest import (
    FIXTURES,
    START,
    Server,
    in_process,
    live_server,
    make_settings,
    raw_http,
    serving,
    wants_live,
)
from tests.serving import served
from tests.training import (
    MODEL,
    SNAPSHOT,
    TERMINAL,
    checked_sdk,
    finish,
    move_until,
    started_at,
    upload,
)

TRAIN = (FIXTURES / "train_chat.jsonl").read_bytes()
SMALL_LIMIT = 1024 * 1024


@pytest.fixture
def small(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    settings = make_settings(tmp_path, max_json_bytes=SMALL_LIMIT)
    with serving(settings, live=wants_live(request)) as server:
        yield server


def http_of(server: Server, key: str = "k") -> httpx.Client:
    return raw_http(server, key, base_url=server.root_url, timeout=30)


def exchange(port: int, request: bytes, *, then: bytes = b"") -> bytes:
    """Send `request`, then `then` (ignoring a server that stopped reading), and return
    everything the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        try:
            sock.sendall(then)
        except OSError:
            pass
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and b'"error"' in received and received.endswith(b"}"):
                break
        return received


# --- JSON bodies -------------------------------------------------------------------------


@pytest.mark.live  # a raw socket
def test_a_declared_oversized_body_is_refused_before_it_is_read(small: Server) -> None:
    declared = 200 * 1024 * 1024
    head = (
        b"POST /v1/fine_tuning/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{" % declared
    )
    started = time.monotonic()
    answer = exchange(small.settings.port, head)
    assert time.monotonic() - started < 5  # nothing like 200 MB was waited for
    assert answer.startswith(b"HTTP/1.1 413")
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["error"] == {
        "message": f"Maximum content size limit ({SMALL_LIMIT}) exceeded ({declared} bytes read)",
        "type": "server_error",
        "param": None,
        "code": None,
    }


@pytest.mark.live  # the body arrives chunk by chunk
def test_a_streamed_oversized_body_is_cut_off_at_the_limit(small: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "'
        for _ in range(64):  # 4 MB, four times the limit, with no length announced
            yield b"x" * 65536
        yield b'"}'

    with http_of(small) as http:
        refused = http.post(
            "/v1/fine_tuning/jobs", content=chunks(), headers={"content-type": "application/json"}
        )
        assert refused.status_code == 413
        message = refused.json()["error"]["message"]
        assert message.startswith(f"Maximum content size limit ({SMALL_LIMIT}) exceeded (")
        read = int(message.rsplit("(", 1)[1].split(" ")[0])
        assert SMALL_LIMIT < read <= SMALL_LIMIT + 4 * 65536  # a received chunk past it at most
        assert http.get("/v1/models").status_code == 200


def test_the_default_limit_is_the_real_apis_50_mb(tmp_path: Path) -> None:
    with live_server(make_settings(tmp_path)) as server:
        head = (
            b"POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
            b"Content-Type: application/json\r\nContent-Length: 52428801\r\n\r\n"
        )
        answer = exchange(server.settings.port, head)
        assert b"Maximum content size limit (52428800) exceeded (52428801 bytes read)" in answer


def test_a_body_under_the_limit_still_works(small: Server) -> None:
    with http_of(small) as http:
        padded = {"filename": "a.jsonl", "purpose": "batch", "bytes": 1, "mime_type": "x" * 1000}
        assert http.post("/v1/uploads", json=padded).status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/uploads", {"filename": "a", "purpose": "p" * 500_000, "bytes": 1, "mime_type": "x"}),
        ("/v1/uploads", {"k" * 500_000: 1}),
        ("/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": 5, "z" * 500_000: 1}),
        ("/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": "f" * 500_000}),
        ("/mockft/chaos", {"status": 500, "method": "M" * 500_000}),
        ("/v1/chat/completions", {"model": "m" * 500_000, "messages": []}),
    ],
)
def test_errors_quote_only_an_excerpt_of_the_input(
    small: Server, path: str, body: dict[str, Any]
) -> None:
    with http_of(small) as http:
        refused = http.post(path, json=body)
        assert 400 <= refused.status_code < 500, refused.text[:500]
        assert len(refused.content) < 3_000
        error = refused.json()["error"]
        assert len(error["param"] or "") <= 100


def test_names_the_client_chose_are_quoted_as_excerpts(small: Server) -> None:
    """An unknown argument's name and the ids of unanswered tool calls: the head of each
    and how long it was, as every other message quotes the client's input."""
    hello = [{"role": "user", "content": "hi"}]
    name, call_id = "k" * 500, "call_" + "x" * 500
    unanswered = [
        *hello,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
    ]
    with http_of(small) as http:
        unknown = http.post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": hello, name: 1}
        ).json()["error"]
        calls = http.post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": unanswered}
        ).json()["error"]
    assert unknown["message"] == (
        f"Unrecognized request argument supplied: {name[:64]}... (500 characters)"
    )
    assert calls["message"].endswith(f"response messages: {call_id[:64]}... (505 characters)")


def test_a_huge_api_key_is_not_echoed(tmp_path: Path) -> None:
    with in_process(make_settings(tmp_path, api_keys=("sk-right",))) as server:
        with http_of(server, "sk-" + "w" * 30_000) as http:
            refused = http.get("/v1/models")
            assert refused.status_code == 401
            assert len(refused.content) < 3_000


# --- filenames ---------------------------------------------------------------------------


def test_the_files_api_limits_filenames(small: Server) -> None:
    with http_of(small) as http:
        longest = "a" * 250 + ".jsonl"
        made = http.post(
            "/v1/files", files={"file": (longest, TRAIN)}, data={"purpose": "fine-tune"}
        )
        assert made.status_code == 200 and made.json()["filename"] == longest
        refused = http.post(
            "/v1/files",
            files={"file": ("a" * 1_000 + ".jsonl", TRAIN)},
            data={"purpose": "fine-tune"},
        )
        assert refused.status_code == 400
        assert refused.json()["error"] == {
            "message": "Invalid 'file': string too long. Expected a string with maximum length "
            "256, but got a string with length 1006 instead.",
            "type": "invalid_request_error",
            "param": "file",
            "code": "string_above_max_length",
        }
        huge = http.post(  # a part header longer than the parser takes: a 400 all the same
            "/v1/files",
            files={"file": ("a" * 100_000 + ".jsonl", TRAIN)},
            data={"purpose": "fine-tune"},
        )
        assert huge.status_code == 400 and len(huge.content) < 3_000
        assert [f["filename"] for f in http.get("/v1/files").json()["data"]] == [longest]
    assert {p.name for p in (small.settings.data_dir / "blobs" / ".partial").iterdir()} == set()


def test_the_uploads_api_limits_filenames(small: Server) -> None:
    with http_of(small) as http:
        refused = http.post(
            "/v1/uploads",
            json={
                "filename": "b" * 10_000 + ".jsonl",
                "purpose": "fine-tune",
                "bytes": 1,
                "mime_type": "x",
            },
        )
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == "filename"
        assert refused.json()["error"]["code"] == "string_above_max_length"


def test_a_download_names_the_file_once_and_briefly(small: Server) -> None:
    with http_of(small) as http:
        name = "é" * 256
        made = http.post("/v1/files", files={"file": (name, b"x")}, data={"purpose": "batch"})
        disposition = http.get(f"/v1/files/{made.json()['id']}/content").headers[
            "content-disposition"
        ]
        assert len(disposition) < 3_000
        assert disposition.count("filename=") == 1 and disposition.count("filename*=") == 1


# --- metadata filters, URLs ---------------------------------------------------------------


def test_too_many_metadata_filters_are_a_400(small: Server) -> None:
    with http_of(small) as http:
        many = {f"metadata[k{i}]": "v" for i in range(1000)}
        refused = http.get("/v1/fine_tuning/jobs", params=many)
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == "metadata"
        assert refused.json()["error"]["code"] == "object_above_max_properties"
        sixteen = {f"metadata[k{i}]": "v" for i in range(16)}
        assert http.get("/v1/fine_tuning/jobs", params=sixteen).json()["data"] == []


@pytest.mark.parametrize("path", ["/v1/files/", "/v1/files/file-abc/", "/v1/fine_tuning/jobs/"])
def test_a_trailing_slash_is_an_unknown_url_not_a_redirect(small: Server, path: str) -> None:
    with http_of(small) as http:
        answer = http.get(path, headers={"Host": "evil.example"})
        assert answer.status_code == 404
        assert "location" not in answer.headers
        assert answer.json()["error"]["message"] == f"Invalid URL (GET {path})"


# --- keys and the banner ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "env"),
    [(("--api-key=",), {}), ((), {"MOCKFT_API_KEYS": ""}), ((), {"MOCKFT_API_KEYS": " , "})],
)
def test_an_empty_key_list_means_any_key_and_the_banner_says_so(
    tmp_path: Path, flags: tuple[str, ...], env: dict[str, str]
) -> None:
    with served(tmp_path / "data", *flags, env=env) as server:
        with server.client("sk-whatever") as http:
            assert http.get("/v1/models").status_code == 200
        assert 'api_key="sk-test"' in server.output()
        assert "any API key accepted" in server.output()


def test_with_keys_the_banner_does_not_offer_a_key_that_is_refused(tmp_path: Path) -> None:
    with served(tmp_path / "data", "--api-key", "sk-real") as server:
        with server.client("sk-test") as http:
            assert http.get("/v1/models").status_code == 401
        with server.client("sk-real") as http:
            assert http.get("/v1/models").status_code == 200
        assert "sk-test" not in server.output()


# --- wording -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"metadata": {f"k{i}": "v" for i in range(20)}},
            "Invalid 'metadata': too many properties. Expected an object with at most 16 "
            "properties, but got an object with 20 properties instead.",
        ),
        (
            {"metadata": {"k" * 100: "v"}},
            "Invalid 'metadata': key too long. Expected a key with maximum length 64, but got a "
            "key with length 100 instead.",
        ),
        (
            {"hyperparameters": {"n_epochs": True}},
            "Invalid type for 'hyperparameters.n_epochs': expected 'auto' or an integer, but got "
            "a boolean instead.",
        ),
        (
            {"hyperparameters": {"learning_rate_multiplier": 0}},
            "Invalid 'hyperparameters.learning_rate_multiplier': number below minimum value. "
            "Expected a value > 0, but got 0 instead.",
        ),
        (
            {"method": {"type": True}},
            "Invalid type for 'method.type': expected one of 'supervised', 'dpo' or "
            "'reinforcement', but got a boolean instead.",
        ),
        (
            {"integrations": {"type": "wandb"}},
            "Invalid type for 'integrations': expected an array, but got an object instead.",
        ),
    ],
)
def test_errors_are_worded_as_the_real_api_words_them(
    small: Server, extra: dict[str, Any], message: str
) -> None:
    with http_of(small) as http:
        body = {"model": "gpt-4o-mini", "training_file": "file-x", **extra}
        refused = http.post("/v1/fine_tuning/jobs", json=body)
        assert refused.status_code == 400
        assert refused.json()["error"]["message"] == message
        for leak in ("None", "True", "0.0", "[key]"):
            assert leak not in refused.text


def test_a_wrong_number_among_numbers_is_a_wrong_value(small: Server) -> None:
    with http_of(small) as http:
        refused = http.post("/mockft/chaos", json={"status": 418})
        assert refused.json()["error"]["message"] == (
            "Invalid value: '418'. Supported values are: '429', '500', '502', '503' and '504'."
        )
        wrong_type = http.post("/mockft/chaos", json={"status": "500"})
        assert wrong_type.json()["error"]["code"] == "invalid_type"


# --- jobs per day and jobs at once (issue 15 item 5) ---------------------------------------

DAY = 86_400


def job_limits(tmp_path: Path, **limits: int) -> Any:
    return live_server(make_settings(tmp_path, **limits))


def jobs_on(
    server: Server, stack: ExitStack, count: int = 2
) -> tuple[openai.OpenAI, list[FineTuningJob]]:
    """The SDK on `server` (closed with `stack`), and `count` jobs of MODEL on one uploaded
    file, created in that order."""
    sdk = stack.enter_context(checked_sdk(server))
    file_id = upload(sdk)
    jobs = [sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id) for _ in range(count)]
    return sdk, jobs


def until_status(server: Server, sdk: openai.OpenAI, job_id: str, status: str) -> FineTuningJob:
    return move_until(server, sdk, job_id, lambda job: job.status == status)


def timeline_of(sdk: openai.OpenAI, job_id: str) -> list[tuple[int, str]]:
    return [(e.created_at, e.message) for e in sdk.fine_tuning.jobs.list_events(job_id, limit=100)]


def test_a_second_job_stays_queued_until_the_first_ends_and_starts_then(
    tmp_path: Path, stack: ExitStack
) -> None:
    with job_limits(tmp_path / "one", max_running_jobs=1) as server:
        sdk, (first, second) = jobs_on(server, stack)
        seen = set()
        while (job := sdk.fine_tuning.jobs.retrieve(first.id)).status not in TERMINAL:
            other = sdk.fine_tuning.jobs.retrieve(second.id)
            seen.add((job.status, other.status))
            if job.status == "running":
                assert other.status == "queued"
            server.advance(10)
        assert ("running", "queued") in seen
        assert started_at(sdk, second.id) == job.finished_at  # at the instant the slot freed
        limited = timeline_of(sdk, second.id)
        done = finish(server, sdk, second.id)
        assert done.status == "succeeded"
        limited = timeline_of(sdk, second.id)
    with job_limits(tmp_path / "free") as free:  # the same jobs without a limit
        sdk, (_, alone) = jobs_on(free, stack)
        finish(free, sdk, alone.id)
        unlimited = timeline_of(sdk, alone.id)
        own_start = started_at(sdk, alone.id)
    assert own_start is not None and own_start < job.finished_at
    wait = job.finished_at - own_start
    # the same events, those from the start on later by the wait
    assert limited == [(at + wait if at >= own_start else at, text) for at, text in unlimited]


def test_cancelling_the_running_job_starts_the_next_at_that_instant(
    tmp_path: Path, stack: ExitStack
) -> None:
    with job_limits(tmp_path, max_running_jobs=1) as server:
        sdk, (first, second) = jobs_on(server, stack)
        until_status(server, sdk, first.id, "running")
        server.advance(30)
        assert sdk.fine_tuning.jobs.retrieve(second.id).status == "queued"
        cancelled = sdk.fine_tuning.jobs.cancel(first.id)
        cancel_at = int(server.service.clock.now())
        assert sdk.fine_tuning.jobs.retrieve(second.id).status == "running"
        assert started_at(sdk, second.id) == cancel_at
        assert cancelled.status == "cancelled"


def test_a_paused_job_keeps_its_slot_until_it_ends(tmp_path: Path, stack: ExitStack) -> None:
    with job_limits(tmp_path, max_running_jobs=1) as server:
        sdk, (first, second) = jobs_on(server, stack)
        until_status(server, sdk, first.id, "running")
        sdk.fine_tuning.jobs.pause(first.id)
        server.advance(3_600)
        assert sdk.fine_tuning.jobs.retrieve(second.id).status == "queued"
        sdk.fine_tuning.jobs.resume(first.id)
        ended = finish(server, sdk, first.id, step=5)
        assert started_at(sdk, second.id) == ended.finished_at


def test_jobs_wait_in_the_order_they_were_created(tmp_path: Path, stack: ExitStack) -> None:
    with job_limits(tmp_path, max_running_jobs=1) as server:
        sdk, jobs = jobs_on(server, stack, 3)
        last = finish(server, sdk, jobs[2].id)
        ends = [sdk.fine_tuning.jobs.retrieve(j.id).finished_at for j in jobs]
        starts = [started_at(sdk, j.id) for j in jobs]
        assert ends[2] == last.finished_at
        assert starts[1] == ends[0] and starts[2] == ends[1]


def test_only_jobs_of_the_same_model_share_the_slots(tmp_path: Path, stack: ExitStack) -> None:
    with job_limits(tmp_path, max_running_jobs=1) as server:
        sdk = stack.enter_context(checked_sdk(server))
        file_id = upload(sdk)
        first = sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id)
        other = sdk.fine_tuning.jobs.create(model="gpt-3.5-turbo", training_file=file_id)
        until_status(server, sdk, first.id, "running")
        until_status(server, sdk, other.id, "running")
        assert sdk.fine_tuning.jobs.retrieve(first.id).status == "running"


def test_the_queue_is_the_same_however_often_its_jobs_are_read(
    tmp_path: Path, stack: ExitStack
) -> None:
    runs = []
    for name, step in (("often", 7), ("rarely", 3_000)):
        with job_limits(tmp_path / name, max_running_jobs=1) as server:
            sdk, jobs = jobs_on(server, stack, 3)
            finish(server, sdk, jobs[2].id, step=step)
            runs.append([timeline_of(sdk, j.id) for j in jobs])
    assert runs[0] == runs[1]


def test_reading_a_job_does_not_recompute_the_queue(
    tmp_path: Path, stack: ExitStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed = []
    original = queueing.schedule

    def counted(*args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(queueing, "schedule", counted)
    with job_limits(tmp_path, max_running_jobs=1) as server:
        sdk, (first, second) = jobs_on(server, stack)
        until_status(server, sdk, second.id, "queued")
        before = len(computed)
        for _ in range(50):  # polls, events pages and lists: nothing changed
            server.advance(1)
            sdk.fine_tuning.jobs.retrieve(second.id)
            sdk.fine_tuning.jobs.retrieve(first.id)
            sdk.fine_tuning.jobs.list_events(second.id, limit=5)
            sdk.fine_tuning.jobs.list(limit=5)
        assert len(computed) == before
        sdk.fine_tuning.jobs.cancel(first.id)  # a change: computed once more
        sdk.fine_tuning.jobs.retrieve(second.id)
        sdk.fine_tuning.jobs.retrieve(second.id)
        assert len(computed) == before + 1


def test_a_limit_set_at_run_time_applies_from_then_on(tmp_path: Path, stack: ExitStack) -> None:
    with job_limits(tmp_path) as server:
        sdk = stack.enter_context(checked_sdk(server))
        control = stack.enter_context(http_of(server))
        file_id = upload(sdk)
        both = [sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id) for _ in range(2)]
        for job in both:
            until_status(server, sdk, job.id, "running")
        assert control.get("/mockft/limits").json() == {
            "object": "mockft.limits",
            "max_jobs_per_day": None,
            "max_running_jobs": None,
        }
        changed = control.post("/mockft/limits", json={"max_running_jobs": 1})
        assert changed.json()["max_running_jobs"] == 1
        third = sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id)
        # nobody loses a slot: both still run, and the new job waits for both to end
        assert [sdk.fine_tuning.jobs.retrieve(j.id).status for j in both] == ["running"] * 2
        finish(server, sdk, third.id)
        ends = [sdk.fine_tuning.jobs.retrieve(j.id).finished_at for j in both]
        assert started_at(sdk, third.id) == max(end for end in ends if end is not None)


def test_lifting_a_limit_starts_a_waiting_job_at_that_instant(
    tmp_path: Path, stack: ExitStack
) -> None:
    with job_limits(tmp_path, max_running_jobs=1) as server:
        sdk, (first, second) = jobs_on(server, stack)
        control = stack.enter_context(http_of(server))
        # validation (at most 60 s) and the queue (at most 120 s) are over for both, and the
        # first job still runs: the second waits for its slot
        server.advance(181)
        assert sdk.fine_tuning.jobs.retrieve(first.id).status == "running"
        assert sdk.fine_tuning.jobs.retrieve(second.id).status == "queued"
        lifted = control.post("/mockft/limits", json={"max_running_jobs": None})
        assert lifted.json()["max_running_jobs"] is None
        assert sdk.fine_tuning.jobs.retrieve(second.id).status == "running"
        assert started_at(sdk, second.id) == START + 181


def test_changing_the_limits_needs_a_control_key_on_a_shared_server(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_keys=("k-a=team-a", "k-b=team-b"))
    with live_server(settings) as server, http_of(server, "k-a") as http:
        refused = http.post("/mockft/limits", json={"max_running_jobs": 1})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "control_key_required"
        assert http.get("/mockft/limits").json()["max_running_jobs"] is None


def test_the_daily_limit_is_the_real_429_through_the_sdk(tmp_path: Path, stack: ExitStack) -> None:
    with job_limits(tmp_path, max_jobs_per_day=2) as server:
        sdk = stack.enter_context(checked_sdk(server, max_retries=1))
        file_id = upload(sdk)
        for _ in range(2):
            sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id)
        with pytest.raises(openai.RateLimitError) as refused:
            sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id)
        assert refused.value.status_code == 429
        assert refused.value.body == {
            "message": "This fine-tune request has been rate-limited. Your organization has "
            f"reached the maximum of 2 fine-tuning requests per day for the model '{SNAPSHOT}'.",
            "type": "invalid_request_error",
            "param": None,
            "code": "daily_rate_limit_exceeded",
        }
        # the SDK retried (nothing in the answer says not to), and no retry made a job
        assert len(sdk.fine_tuning.jobs.list().data) == 2


def test_the_daily_limit_counts_a_rolling_day_per_model(tmp_path: Path, stack: ExitStack) -> None:
    with job_limits(tmp_path, max_jobs_per_day=1) as server:
        sdk = stack.enter_context(checked_sdk(server))
        file_id = upload(sdk)
        sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id)
        sdk.fine_tuning.jobs.create(model="gpt-3.5-turbo", training_file=file_id)  # its own
        server.advance(DAY - 1)
        with pytest.raises(openai.RateLimitError):
            sdk.fine_tuning.jobs.create(model=f"{SNAPSHOT}", training_file=file_id)
        server.advance(1)  # a day after the first: it no longer counts
        sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id)
