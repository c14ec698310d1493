"""A fine-tuning pipeline, as a user writes it with the official SDK, against a manual clock."""

from __future__ import annotations

import base64
import csv
import io
import json
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from mockft import lifecycle, synth
from mockft import validation as validation_rules
from mockft.pytest_plugin import MockFT
from tests.conftest import FIXTURES, Server, in_process, make_settings, raw_http

TRAIN = FIXTURES / "train_chat.jsonl"
VALID = FIXTURES / "valid_chat.jsonl"
N_TRAIN = sum(1 for line in TRAIN.read_text().splitlines() if line.strip())


def upload(client: openai.OpenAI, path: Path) -> str:
    return client.files.create(file=(path.name, path.read_bytes()), purpose="fine-tune").id


def create_job(client: openai.OpenAI, **extra: object) -> openai.types.fine_tuning.FineTuningJob:
    return client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=upload(client, TRAIN),
        **extra,  # type: ignore[arg-type]
    )


def run_to_end(client: openai.OpenAI, server: Server, job_id: str, step: int = 60) -> list[str]:
    """Advance the clock `step` seconds at a time, recording each new status seen."""
    seen = [client.fine_tuning.jobs.retrieve(job_id).status]
    for _ in range(12_000 // step):
        server.advance(step)
        status = client.fine_tuning.jobs.retrieve(job_id).status
        if status != seen[-1]:
            seen.append(status)
        if status in {"succeeded", "failed", "cancelled"}:
            return seen
    raise AssertionError(f"job never finished: {seen}")


def test_full_pipeline(client: openai.OpenAI, server: Server) -> None:
    training, validation = upload(client, TRAIN), upload(client, VALID)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=training,
        validation_file=validation,
        suffix="marv",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
        metadata={"team": "search"},
    )
    assert job.id.startswith("ftjob-") and len(job.id) == 30
    assert (job.status, job.model, job.fine_tuned_model) == (
        "validating_files",
        "gpt-4o-mini-2024-07-18",
        None,
    )
    assert job.hyperparameters.n_epochs == 3
    assert job.hyperparameters.batch_size == "auto"

    statuses = run_to_end(client, server, job.id)
    assert statuses == ["validating_files", "queued", "running", "succeeded"] or statuses[0:1] + [
        s for s in statuses[1:] if s != "running"
    ] == ["validating_files", "queued", "succeeded"]

    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded"
    assert done.fine_tuned_model is not None
    assert done.fine_tuned_model.startswith("ft:gpt-4o-mini-2024-07-18:mockft:marv:")
    assert done.hyperparameters.batch_size == 1
    assert done.finished_at is not None and done.finished_at > done.created_at
    steps = N_TRAIN * 3
    assert done.trained_tokens and done.trained_tokens > 0

    # events, newest first, paged with `after` by the SDK
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=7))
    messages = [e.message for e in reversed(events)]
    assert messages[0] == f"Created fine-tuning job: {job.id}"
    assert messages[1] == (
        f"Validating training file: {training} and validation file: {validation}"
    )
    assert messages[2] == "Files validated, moving job to queued state"
    assert messages[3] == "Fine-tuning job started"
    assert messages[-2] == f"New fine-tuned model created: {done.fine_tuned_model}"
    assert messages[-1] == "The job has successfully completed"
    metrics = [e for e in events if e.type == "metrics"]
    assert len(metrics) == steps
    evaluated = [e for e in metrics if e.data and e.data["step"] % 10 == 0]
    assert evaluated and all({"valid_loss", "total_steps"} <= set(e.data or {}) for e in evaluated)
    assert len({e.id for e in events}) == len(events)

    # three checkpoints, newest first, each a usable model: the last is the model itself
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [steps, steps * 2 // 3, steps // 3]
    assert checkpoints[0].fine_tuned_model_checkpoint == done.fine_tuned_model
    base = done.fine_tuned_model.rsplit(":", 1)[0]
    for c in checkpoints[1:]:
        name, tag, suffix = c.fine_tuned_model_checkpoint.rsplit(":", 2)
        assert (name, len(tag), suffix) == (base, 8, f"ckpt-step-{c.step_number}")
    assert all(c.id.startswith("ftckpt_") for c in checkpoints)

    # the result file: base64 of the step metrics CSV, one row per step
    (result_id,) = done.result_files
    result = client.files.retrieve(result_id)
    assert (result.purpose, result.filename) == ("fine-tune-results", "step_metrics.csv")
    rows = list(
        csv.reader(io.StringIO(base64.b64decode(client.files.content(result_id).content).decode()))
    )
    assert rows[0] == [
        "step",
        "train_loss",
        "train_accuracy",
        "valid_loss",
        "valid_mean_token_accuracy",
    ]
    assert [int(r[0]) for r in rows[1:]] == list(range(1, steps + 1))

    # the model is listed, retrievable and deletable
    model_ids = {m.id for m in client.models.list()}
    assert done.fine_tuned_model in model_ids
    assert checkpoints[0].fine_tuned_model_checkpoint in model_ids
    assert client.models.retrieve(done.fine_tuned_model).owned_by == done.organization_id
    deleted = client.models.delete(done.fine_tuned_model)
    assert (deleted.id, deleted.deleted) == (done.fine_tuned_model, True)
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(done.fine_tuned_model)


def test_same_seed_gives_identical_metrics_and_csv(tmp_path: Path) -> None:
    outputs = []
    for run in range(2):
        with in_process(make_settings(tmp_path / str(run))) as server:
            with server.openai(api_key="k", max_retries=0) as client:
                job = create_job(client, seed=42, hyperparameters={"n_epochs": 2})
                run_to_end(client, server, job.id)
                done = client.fine_tuning.jobs.retrieve(job.id)
                events = [
                    (e.id, e.message, e.data)
                    for e in client.fine_tuning.jobs.list_events(job.id, limit=1000)
                ]
                outputs.append(
                    (done.model_dump(), events, client.files.content(done.result_files[0]).content)
                )
    assert outputs[0] == outputs[1]


def test_a_result_file_is_made_when_the_job_ends_however_late_it_is_seen(
    mockft: MockFT,
) -> None:
    """The result file and the models exist from the job's end: first read a day later,
    they still say `finished_at` (not the instant of that read), so the same seed, inputs
    and clock give the same objects whatever the polling cadence."""
    client = mockft.openai()
    training = client.files.create(file=(TRAIN.name, TRAIN.read_bytes()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
    mockft.advance(86_400)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded" and done.finished_at is not None
    assert done.finished_at < mockft.now() - 3600
    assert client.files.retrieve(done.result_files[0]).created_at == done.finished_at
    assert client.models.retrieve(done.fine_tuned_model or "").created == done.finished_at


def test_cancel_while_running(client: openai.OpenAI, server: Server) -> None:
    job = create_job(client)
    while client.fine_tuning.jobs.retrieve(job.id).status != "running":
        server.advance(10)
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    server.advance(3600)
    after = client.fine_tuning.jobs.retrieve(job.id)
    assert (after.status, after.fine_tuned_model, after.result_files) == ("cancelled", None, [])
    assert client.fine_tuning.jobs.list_events(job.id).data[0].message == (
        "Fine-tuning job cancelled"
    )
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.cancel(job.id)


def test_pause_and_resume(client: openai.OpenAI, server: Server) -> None:
    job = create_job(client)
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.pause(job.id)  # still validating
    while client.fine_tuning.jobs.retrieve(job.id).status != "running":
        server.advance(10)
    assert client.fine_tuning.jobs.pause(job.id).status == "paused"
    server.advance(24 * 3600)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "paused"
    assert client.fine_tuning.jobs.resume(job.id).status == "running"
    assert run_to_end(client, server, job.id)[-1] == "succeeded"


def test_control_fail_and_complete(client: openai.OpenAI, server: Server) -> None:
    auth = {"Authorization": "Bearer k"}
    job = create_job(client)
    response = raw_http(server).post(
        f"{server.root_url}/mockft/jobs/{job.id}/fail",
        json={"code": "invalid_training_file", "message": "Line 3 is bad"},
        headers=auth,
    )
    assert response.status_code == 200
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("invalid_training_file", "Line 3 is bad")
    assert client.fine_tuning.jobs.list_events(job.id).data[0].level == "error"

    other = create_job(client)
    raw_http(server).post(
        f"{server.root_url}/mockft/jobs/{other.id}/complete", headers=auth
    ).raise_for_status()
    done = client.fine_tuning.jobs.retrieve(other.id)
    assert done.status == "succeeded"
    assert done.fine_tuned_model in {m.id for m in client.models.list()}


def test_list_jobs_newest_first_with_metadata_filter(
    client: openai.OpenAI, http: httpx.Client
) -> None:
    a = create_job(client, metadata={"env": "prod"})
    b = create_job(client, metadata={"env": "dev"})
    assert [j.id for j in client.fine_tuning.jobs.list()] == [b.id, a.id]
    filtered = http.get("/fine_tuning/jobs", params={"metadata[env]": "prod"}).json()
    assert [j["id"] for j in filtered["data"]] == [a.id]
    page = client.fine_tuning.jobs.list(limit=1)
    assert page.has_more and page.data[0].id == b.id


@pytest.mark.parametrize(
    ("payload", "status", "param", "code"),
    [
        ({"model": "gpt-nope"}, 400, "model", "model_not_available"),
        ({"model": "whisper-1"}, 400, "model", "model_not_available"),
        ({"training_file": "file-missing"}, 400, "training_file", None),
        (
            {"hyperparameters": {"n_epochs": 51}},
            400,
            "hyperparameters.n_epochs",
            "integer_above_max_value",
        ),
        ({"suffix": "x" * 65}, 400, "suffix", "string_above_max_length"),
        ({"seed": -1}, 400, "seed", "integer_below_min_value"),
        ({"metadata": {str(i): "v" for i in range(17)}}, 400, "metadata", None),
    ],
)
def test_create_rejections(
    http: httpx.Client,
    client: openai.OpenAI,
    payload: dict[str, object],
    status: int,
    param: str,
    code: str | None,
) -> None:
    body = {"model": "gpt-4o-mini", "training_file": upload(client, TRAIN), **payload}
    response = http.post("/fine_tuning/jobs", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    assert http.get("/fine_tuning/jobs").json()["data"] == []


def test_unknown_job_is_404_with_real_wording(http: httpx.Client) -> None:
    for path in ("/fine_tuning/jobs/123", "/fine_tuning/jobs/123/events"):
        assert http.get(path).json() == {
            "error": {
                "message": "Could not find fine tune: 123",
                "type": "invalid_request_error",
                "param": "fine_tune_id",
                "code": "fine_tune_not_found",
            }
        }
    assert http.post("/fine_tuning/jobs/123/cancel").status_code == 404


def test_too_few_examples_fail_during_validation(client: openai.OpenAI, server: Server) -> None:
    small = client.files.create(
        file=("small.jsonl", (FIXTURES / "bad" / "too_few.jsonl").read_bytes()),
        purpose="fine-tune",
    )
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=small.id)
    assert run_to_end(client, server, job.id) == ["validating_files", "failed"]
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.error is not None and failed.error.code == "invalid_n_examples"
    assert failed.error.param == "training_file"
    assert failed.error.message == (
        "Training file has 5 example(s), but must have at least 10 examples"
    )


def test_another_org_sees_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_keys=("sk-a=acme", "sk-b=globex"))
    with in_process(settings) as server:
        a = server.openai(api_key="sk-a", max_retries=0)
        b = server.openai(api_key="sk-b", max_retries=0)
        with a, b:
            _check_isolation(server, a, b)


def _check_isolation(server: Server, a: openai.OpenAI, b: openai.OpenAI) -> None:
    job = create_job(a)
    run_to_end(a, server, job.id)
    done = a.fine_tuning.jobs.retrieve(job.id)
    assert done.fine_tuned_model is not None
    with pytest.raises(openai.NotFoundError):
        b.fine_tuning.jobs.retrieve(job.id)
    with pytest.raises(openai.NotFoundError):
        b.models.retrieve(done.fine_tuned_model)
    with pytest.raises(openai.NotFoundError):
        b.models.delete(done.fine_tuned_model)
    with pytest.raises(openai.BadRequestError):
        b.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=done.training_file)
    assert done.fine_tuned_model not in {m.id for m in b.models.list()}
    assert list(b.fine_tuning.jobs.list()) == []


def test_reinforcement_jobs_check_their_grader(http: httpx.Client, client: openai.OpenAI) -> None:
    grader = {
        "type": "string_check",
        "name": "exact",
        "input": "{{sample.output_text}}",
        "reference": "{{item.answer}}",
        "operation": "eq",
    }
    body = {
        "model": "o4-mini",
        "training_file": upload(client, TRAIN),
        "method": {"type": "reinforcement", "reinforcement": {"grader": grader}},
    }
    created = http.post("/fine_tuning/jobs", json=body)
    assert created.status_code == 200, created.text
    assert created.json()["method"]["reinforcement"]["grader"] == grader

    body["method"]["reinforcement"]["grader"] = {**grader, "operation": "resembles"}  # type: ignore[index]
    refused = http.post("/fine_tuning/jobs", json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "method.reinforcement.grader.operation"


def control(server: Server, path: str, body: dict[str, object] | None = None) -> httpx.Response:
    return raw_http(server, "k").post(f"{server.root_url}/mockft{path}", json=body or {})


def test_hold_keeps_a_job_queued_until_released(client: openai.OpenAI, server: Server) -> None:
    job = create_job(client)
    while client.fine_tuning.jobs.retrieve(job.id).status != "queued":
        server.advance(5)
    assert control(server, f"/jobs/{job.id}/hold").json()["status"] == "queued"
    assert control(server, f"/jobs/{job.id}/hold").status_code == 400  # already held
    server.advance(7 * 24 * 3600)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "queued"
    assert control(server, f"/jobs/{job.id}/release").status_code == 200
    assert control(server, f"/jobs/{job.id}/release").status_code == 400  # not held
    assert run_to_end(client, server, job.id)[-1] == "succeeded"
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=1000)]
    assert not any("paused" in m or "held" in m for m in messages)


def test_fail_at_a_step_happens_when_that_step_comes(client: openai.OpenAI, server: Server) -> None:
    job = create_job(client, hyperparameters={"n_epochs": 2})
    armed = control(
        server,
        f"/jobs/{job.id}/fail",
        {"code": "server_error", "message": "GPU fell over", "at_step": 7},
    )
    assert armed.json()["status"] == "validating_files"  # nothing happens yet
    while client.fine_tuning.jobs.retrieve(job.id).status != "running":
        server.advance(5)
    client.fine_tuning.jobs.pause(job.id)  # pauses push the step (and the failure) later
    server.advance(3600)
    client.fine_tuning.jobs.resume(job.id)
    assert run_to_end(client, server, job.id)[-1] == "failed"
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.error is not None and failed.error.message == "GPU fell over"
    steps = [
        e.data["step"]
        for e in client.fine_tuning.jobs.list_events(job.id, limit=1000)
        if e.type == "metrics" and e.data
    ]
    assert max(steps) == 7


def test_fail_on_entering_a_state(client: openai.OpenAI, server: Server) -> None:
    job = create_job(client)
    control(
        server, f"/jobs/{job.id}/fail", {"code": "quota", "message": "no", "in_state": "running"}
    )
    assert run_to_end(client, server, job.id, step=5) == ["validating_files", "queued", "failed"]
    bad = control(server, f"/jobs/{job.id}/fail", {"in_state": "sleeping"})
    assert bad.status_code == 400


def test_fail_at_step_out_of_range_is_400(client: openai.OpenAI, server: Server) -> None:
    job = create_job(client)
    response = control(server, f"/jobs/{job.id}/fail", {"at_step": 10_000})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "at_step"


def test_reinforcement_metrics_carry_the_grader_reward(
    http: httpx.Client, client: openai.OpenAI, server: Server
) -> None:
    grader = {
        "type": "string_check",
        "name": "exact",
        "input": "{{sample.output_text}}",
        "reference": "{{item.answer}}",
        "operation": "eq",
    }
    job = http.post(
        "/fine_tuning/jobs",
        json={
            "model": "o4-mini",
            "training_file": upload(client, TRAIN),
            "method": {"type": "reinforcement", "reinforcement": {"grader": grader}},
        },
    ).json()
    assert run_to_end(client, server, job["id"])[-1] == "succeeded"
    metrics = [
        e for e in client.fine_tuning.jobs.list_events(job["id"], limit=1000) if e.type == "metrics"
    ]
    rewards = [e.data["train_reward_mean"] for e in reversed(metrics) if e.data]
    assert len(rewards) == len(metrics) and all(0 <= r <= 1 for r in rewards)
    assert sum(rewards[-5:]) > sum(rewards[:5])  # the model learns
    assert "reward=" in metrics[0].message
    checkpoint = client.fine_tuning.jobs.checkpoints.list(job["id"]).data[0]
    assert "train_reward_mean" in checkpoint.metrics.model_dump()

    supervised = create_job(client)
    assert run_to_end(client, server, supervised.id)[-1] == "succeeded"
    plain = client.fine_tuning.jobs.list_events(supervised.id, limit=1000).data
    assert all("train_reward_mean" not in (e.data or {}) for e in plain)


def test_results_are_made_once_even_from_an_older_reading_of_the_job(
    client: openai.OpenAI, server: Server
) -> None:
    """Reads share one decoding per stored version of a job; one taken before the results
    were made must not make them a second time."""
    job = create_job(client)
    server.advance(86_400)
    jobs, org = server.service.jobs, server.service.keys.default
    before = jobs._stored(org, job.id)  # decoded while the results are not made yet
    assert not before.record.materialized
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"  # makes them
    jobs._observe(org, before)
    results = [f for f in client.files.list() if f.purpose == "fine-tune-results"]
    assert len(results) == 1
    assert client.fine_tuning.jobs.retrieve(job.id).result_files == [results[0].id]


# --- heavy work stays off the event loop (issue 13 items 5 and 6) ---------------------------


class _Gate:
    """Makes a function wait until released, and says when it has been entered."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.entered = threading.Event()
        self.released = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        if not self.released.wait(timeout=60):
            raise AssertionError("the gate was never released")
        return self.function(*args, **kwargs)


def test_other_requests_are_answered_while_a_training_file_validates(
    server: Server, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Create answers at once; validation runs off the loop; a read that needs its outcome
    waits for it without holding anyone else up."""
    gate = _Gate(validation_rules.validate_file)
    monkeypatch.setattr(validation_rules, "validate_file", gate)
    training = upload(client, TRAIN)
    quick = server.openai(api_key="k", max_retries=0, timeout=5)
    with quick:
        job = quick.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
        assert job.status == "validating_files"
        assert gate.entered.wait(timeout=10)  # the validation is under way, and held
        server.advance(lifecycle.VALIDATION_BASE_SECONDS + 60)  # its outcome is needed now
        waiting: dict[str, Any] = {}
        reader = threading.Thread(
            target=lambda: waiting.update(job=client.fine_tuning.jobs.retrieve(job.id))
        )
        reader.start()
        for _ in range(5):  # the server keeps answering everyone else meanwhile
            assert quick.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
            assert quick.files.retrieve(training).id == training
        assert "job" not in waiting  # the read that needs the outcome is waiting for it
        gate.released.set()
        reader.join(timeout=30)
    assert waiting["job"].status in ("queued", "running")  # validated: its outcome is in
    assert waiting["job"].hyperparameters.n_epochs == 100 // N_TRAIN


def test_a_success_is_materialised_off_the_event_loop(
    server: Server, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result file of a success is written off the loop: the first reader of the success
    waits for it, everyone else is answered."""
    job = create_job(client)
    gate = _Gate(lifecycle.metrics_through)
    monkeypatch.setattr(lifecycle, "metrics_through", gate)
    server.advance(86_400)
    seen: dict[str, Any] = {}
    first = threading.Thread(
        target=lambda: seen.update(job=client.fine_tuning.jobs.retrieve(job.id))
    )
    first.start()
    assert gate.entered.wait(timeout=10)
    with server.openai(api_key="k", max_retries=0, timeout=5) as quick:
        assert quick.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
        assert [f.purpose for f in quick.files.list()] == ["fine-tune"]
    assert "job" not in seen
    gate.released.set()
    first.join(timeout=30)
    assert seen["job"].status == "succeeded" and len(seen["job"].result_files) == 1


def _many_examples(count: int) -> bytes:
    return "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"What is {i} plus {i}?"},
                    {"role": "assistant", "content": f"{2 * i}."},
                ]
            }
        )
        + "\n"
        for i in range(count)
    ).encode()


def test_a_page_of_events_costs_the_same_at_step_10_and_step_500000(
    mockft: MockFT, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 500,000-step job (10,000 examples, 50 epochs, batch size 1: within the API's
    limits): a page of 20 events computes 20 events' metrics, whichever step the job is
    at, and the job's state in memory does not grow with its steps."""
    client = mockft.openai()
    training = client.files.create(file=("big.jsonl", _many_examples(10_000)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=training.id,
        hyperparameters={"n_epochs": 50, "batch_size": 1},
    )
    computed: list[int] = []
    real = synth.step_metrics
    monkeypatch.setattr(synth, "step_metrics", lambda *a, **k: computed.append(1) or real(*a, **k))

    def page_cost() -> tuple[int, int, list[int]]:
        """What a page read at a new instant computes, and the memory it takes."""
        mockft.advance(1)
        computed.clear()
        tracemalloc.start()
        page = client.fine_tuning.jobs.list_events(job.id, limit=20)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        steps = [e.data["step"] for e in page.data if e.type == "metrics" and e.data]
        return len(computed), peak, steps

    while mockft.job(job.id).status != "running":
        mockft.advance(60)
    mockft.advance(25)  # about ten steps of ~2.3 s
    early_work, early_peak, early_steps = page_cost()
    assert early_steps and max(early_steps) < 20

    def newest_step() -> int:
        data = client.fine_tuning.jobs.list_events(job.id, limit=1).data[0].data
        return int(data["step"]) if data else 0

    for chunk, until in ((100_000, 440_000), (5_000, 490_000)):  # near the last steps
        while newest_step() <= until:
            mockft.advance(chunk)
    late_work, late_peak, late_steps = page_cost()
    assert mockft.job(job.id).status == "running"
    assert late_steps and min(late_steps) > 480_000  # a metrics event every 500 steps
    assert early_work <= 20 and late_work <= 20
    assert late_peak < 1_000_000 and early_peak < 1_000_000  # bytes, whatever the step


def test_polling_at_many_instants_keeps_one_snapshot_per_job(mockft: MockFT) -> None:
    """Memory does not grow with the number of distinct instants a job is polled at: a
    paused job, polled once a second, keeps one snapshot (the one valid until it changes)."""
    client = mockft.openai()
    job = create_job(client)
    while mockft.job(job.id).status != "running":
        mockft.advance(60)
    client.fine_tuning.jobs.pause(job.id)

    def poll(seconds: int) -> None:
        for _ in range(seconds):
            mockft.advance(1)
            assert client.fine_tuning.jobs.retrieve(job.id).status == "paused"
            client.fine_tuning.jobs.list_events(job.id, limit=20)

    # What the job's state keeps: allocations made by the modules that compute it (the
    # request log, say, keeps its 10,000 latest entries whatever is polled).
    kept_by = [
        tracemalloc.Filter(True, f"*/mockft/{name}")
        for name in (
            "lifecycle.py",
            "joblog.py",
            "synth.py",
            "job_record.py",
            "service/*",
            "wire/*",
        )
    ] + [tracemalloc.Filter(False, "*/mockft/service/request_log.py")]

    def kept() -> int:
        snapshot = tracemalloc.take_snapshot().filter_traces(kept_by)
        return sum(stat.size for stat in snapshot.statistics("filename"))

    poll(30)
    tracemalloc.start()
    poll(10)
    before = kept()
    poll(50)
    after = kept()
    tracemalloc.stop()
    # Bytes kept by 50 more polled instants: under 100 an instant (nothing is kept today;
    # one snapshot kept per instant would be hundreds of bytes each).
    assert after - before < 5_000
