"""Fine-tuning jobs, their events and checkpoints as the real API shows them (issue 12, the
`jobs` branch's rows of docs/fidelity.md).

Every expected value comes from a vendored capture (`tests/data/captures/`): ruby-openai's
cassettes, the cookbook's output cells, GPTifier's strings, and `jobs/` (printed jobs of
public scripts, 2024-08 to 2025-04, and simple-openai#193). The jobs run in-process on the
`mockft` fixture (manual clock).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from mockft.pytest_plugin import MockFT
from tests.conftest import Server
from tests.fidelity.conftest import TRAIN, VALID, capture, create_job, finish, response_of

FIXTURES = TRAIN.parent
DPO = FIXTURES / "train_dpo.jsonl"
FEW = b"".join(TRAIN.read_bytes().splitlines(keepends=True)[:7])  # 7 examples, as captured
MODEL = "gpt-4o-mini"
AUTO = {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}


def pinolo() -> Any:
    return capture("jobs/pinolo_mutate_llm.json")


def printed_2024_12() -> Any:
    return capture("jobs/printed_jobs_2024_12.json")


def _upload(mockft: MockFT, data: bytes, name: str = "train.jsonl") -> str:
    return mockft.openai().files.create(file=(name, data), purpose="fine-tune").id


def _create(mockft: MockFT, **body: Any) -> dict[str, Any]:
    body.setdefault("model", MODEL)
    body.setdefault("training_file", _upload(mockft, TRAIN.read_bytes()))
    response = mockft.http_client().post("/v1/fine_tuning/jobs", json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def _job(mockft: MockFT, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = mockft.http_client().get(f"/v1/fine_tuning/jobs/{job_id}").json()
    return job


def _events(mockft: MockFT, job_id: str) -> list[dict[str, Any]]:
    """All events, oldest first."""
    http = mockft.http_client()
    page = http.get(f"/v1/fine_tuning/jobs/{job_id}/events", params={"limit": 10_000}).json()
    events: list[dict[str, Any]] = page["data"][::-1]
    return events


def _checkpoints(mockft: MockFT, job_id: str) -> list[dict[str, Any]]:
    page = mockft.http_client().get(f"/v1/fine_tuning/jobs/{job_id}/checkpoints").json()
    checkpoints: list[dict[str, Any]] = page["data"]
    return checkpoints


def _advance_until(mockft: MockFT, job_id: str, status: str, step: int = 1) -> dict[str, Any]:
    for _ in range(100_000):
        job = _job(mockft, job_id)
        if job["status"] == status:
            return job
        mockft.advance(step)
    raise AssertionError(f"{job_id} never became {status}")


def _model_parts(name: str) -> tuple[str, str, str | None]:
    """`ft:{snapshot}:{org}:{suffix}:{tag}[:ckpt-step-N]` -> (`ft:…:{suffix}`, tag, step)."""
    match = re.fullmatch(r"(ft:[^:]+:[^:]*:[^:]*):([0-9A-Za-z]{8})(?::ckpt-step-(\d+))?", name)
    assert match is not None, name
    return match.group(1), match.group(2), match.group(3)


# --- item 1: error ---------------------------------------------------------------------------


def test_a_job_that_has_not_failed_has_an_empty_error_object(mockft: MockFT) -> None:
    """ruby-openai finetunes_create.yml (2024-10-15): the create answer has "error": {}."""
    real = response_of("finetunes_create")["body"]["error"]
    assert real == {}
    job = _create(mockft)
    assert job["error"] == real
    mockft.advance(60)
    assert _job(mockft, job["id"])["error"] == real
    done = mockft.run_until_done(job["id"])
    assert _job(mockft, done.id)["error"] == real


# --- items 3 and 4: checkpoints and their events ---------------------------------------------


def test_the_last_checkpoint_is_the_model_and_earlier_ones_have_their_own_tag(
    mockft: MockFT,
) -> None:
    """jobs/pinolo_mutate_llm.json (2024-08-17): the newest checkpoint's model is the job's
    fine_tuned_model; each earlier one has its own 8-character tag; metrics without
    full_valid_* keys (2024-08-09)."""
    real = pinolo()["postgres_job"]
    real_models = real["checkpoint_models_newest_first"]
    assert real_models[0] == real["succeeded"]["fine_tuned_model"]
    real_prefix, real_tag, _ = _model_parts(real_models[0])
    real_earlier = [_model_parts(m) for m in real_models[1:]]
    assert all(prefix == real_prefix and tag != real_tag for prefix, tag, _ in real_earlier)
    real_metric_keys = {
        frozenset(c["metrics"]) for c in pinolo()["mysql_job"]["checkpoints"]["data"]
    }

    job = _create(
        mockft,
        suffix="pinolo-mutate-llm",
        validation_file=_upload(mockft, VALID.read_bytes(), "valid.jsonl"),
    )
    done = mockft.run_until_done(job["id"])
    assert done.fine_tuned_model is not None
    checkpoints = _checkpoints(mockft, job["id"])
    steps = [c["step_number"] for c in checkpoints]
    assert len(steps) == len(real["checkpoint_steps_newest_first"])
    assert steps == sorted(steps, reverse=True)
    models = [c["fine_tuned_model_checkpoint"] for c in checkpoints]
    assert models[0] == done.fine_tuned_model
    prefix, tag, _ = _model_parts(models[0])
    earlier = [_model_parts(m) for m in models[1:]]
    assert [(p, s) for p, _, s in earlier] == [(prefix, str(n)) for n in steps[1:]]
    assert len({t for _, t, _ in earlier} | {tag}) == len(models)  # a tag of their own
    assert {frozenset(c["metrics"]) for c in checkpoints} == real_metric_keys
    assert set(models) <= {m.id for m in mockft.openai().models.list()}


def test_checkpoint_events_come_with_the_model_one_per_earlier_checkpoint(mockft: MockFT) -> None:
    """openai-cookbook How_to_finetune_chat_models.ipynb (2024-07): after the last metrics
    event, "Checkpoint created at step 101 with Snapshot ID: ft:…:ckpt-step-101", "… step
    202 …", "New fine-tuned model created: …", "The job has successfully completed".
    jobs/pinolo_mutate_llm.json: those events carry the model event's created_at."""
    cookbook = capture("openai-cookbook/how_to_finetune_chat_models_events.json")
    real_tail = cookbook["event_messages_oldest_first"][-4:]
    checkpoint_wording = re.compile(r"Checkpoint created at step (\d+) with Snapshot ID: (\S+)")
    real_steps = [int(m.group(1)) for m in map(checkpoint_wording.fullmatch, real_tail[:2]) if m]
    assert real_steps == [101, 202]  # oldest first, the last checkpoint (303) has none
    real_times = {
        e["created_at"] for e in pinolo()["postgres_job"]["last_events_newest_first"][1:4]
    }
    assert len(real_times) == 1

    job = _create(mockft)
    done = mockft.run_until_done(job["id"])
    events = _events(mockft, job["id"])
    last_metrics = max(i for i, e in enumerate(events) if e["type"] == "metrics")
    tail = events[last_metrics + 1 :]
    earlier = _checkpoints(mockft, job["id"])[1:][::-1]  # oldest first, the model left out
    assert [e["message"] for e in tail] == [
        *(
            f"Checkpoint created at step {c['step_number']} with Snapshot ID: "
            f"{c['fine_tuned_model_checkpoint']}"
            for c in earlier
        ),
        real_tail[2].replace(cookbook["fine_tuned_model"], str(done.fine_tuned_model)),
        real_tail[3],
    ]
    assert len({e["created_at"] for e in tail[:-1]}) == 1


def test_checkpoints_appear_with_the_model(mockft: MockFT) -> None:
    """jobs/pinolo_mutate_llm.json: every checkpoint tag was minted with the model's
    (9x9umLQq, 9x9umRGJ, 9x9umpsR) and announced when the model was created: no checkpoint
    is listed before then."""
    tags = [_model_parts(m)[1] for m in pinolo()["postgres_job"]["checkpoint_models_newest_first"]]
    assert len({t[:5] for t in tags}) == 1  # minted together
    job = _create(mockft, hyperparameters={"n_epochs": 3})
    _advance_until(mockft, job["id"], "running", step=10)
    mockft.advance(100)  # well past the first epoch's end (15 steps of ~2 s)
    assert _job(mockft, job["id"])["status"] == "running"
    assert _checkpoints(mockft, job["id"]) == []
    mockft.run_until_done(job["id"])
    assert len(_checkpoints(mockft, job["id"])) == 3


# --- item 5: non-supervised jobs ----------------------------------------------------------


def test_a_dpo_job_has_null_hyperparameters_and_its_method_shows_them(mockft: MockFT) -> None:
    """jobs/printed_jobs_2024_12.json: a DPO job has hyperparameters null and
    method {type: dpo, dpo: {hyperparameters: {...}}}."""
    real = printed_2024_12()["failed_dpo_job"]
    assert real["hyperparameters"] is None
    real_dpo = real["method"]["dpo"]["hyperparameters"]
    method = {"type": "dpo", "dpo": {"hyperparameters": {"beta": real_dpo["beta"]}}}
    job = _create(mockft, training_file=_upload(mockft, DPO.read_bytes()), method=method)
    assert job["hyperparameters"] is None
    assert job["method"]["type"] == "dpo"
    assert job["method"]["dpo"]["hyperparameters"] == real_dpo
    done = mockft.run_until_done(job["id"])
    assert done.status == "succeeded"
    assert _job(mockft, job["id"])["hyperparameters"] is None


# --- item 6: failed in validating_files ----------------------------------------------------


def test_a_job_that_fails_validation_keeps_finished_at_null(mockft: MockFT) -> None:
    """jobs/printed_jobs_2024_12.json (invalid_n_examples) and openai-php's failed job
    fixture: finished_at null, hyperparameters still "auto"."""
    real = printed_2024_12()["failed_n_examples_job"]
    php_job = capture("data/openai-php_fine_tuning_failed_job.json")
    assert real["finished_at"] is None and php_job["finished_at"] is None
    job = _create(mockft, training_file=_upload(mockft, FEW))
    done = mockft.run_until_done(job["id"])
    failed = _job(mockft, done.id)
    assert failed["status"] == real["status"]
    assert failed["finished_at"] is None
    assert failed["hyperparameters"] == real["hyperparameters"]


# --- item 7: event data --------------------------------------------------------------------


def test_the_job_started_event_has_null_data_and_other_messages_empty_data(mockft: MockFT) -> None:
    """jobs/pinolo_mutate_llm.json (2024-08-17) and jobs/printed_jobs_2024_12.json: "Fine-tuning
    job started" has data null; the other message events {}."""
    real = {
        e["message"].split(":")[0]: e["data"]
        for e in printed_2024_12()["running_job_events_newest_first"]
        + pinolo()["postgres_job"]["events_while_running_newest_first"]
    }
    assert real["Fine-tuning job started"] is None
    job = _create(mockft)
    mockft.run_until_done(job["id"])
    messages = [e for e in _events(mockft, job["id"]) if e["type"] == "message"]
    for event in messages:
        expected = real.get(event["message"].split(":")[0], {})
        assert event["data"] == expected, event["message"]
    assert any(e["data"] is None for e in messages)


# --- item 8: estimated_finish --------------------------------------------------------------


def test_estimated_finish_is_null_while_running(mockft: MockFT) -> None:
    """jobs/printed_jobs_2024_12.json and jobs/pinolo_mutate_llm.json: null while running."""
    assert printed_2024_12()["running_job"]["estimated_finish"] is None
    assert pinolo()["postgres_job"]["running"]["estimated_finish"] is None
    job = _create(mockft)
    assert job["estimated_finish"] is None
    running = _advance_until(mockft, job["id"], "running", step=10)
    assert running["estimated_finish"] is None


# --- item 9: validation metrics --------------------------------------------------------------


def test_validation_metrics_every_tenth_step_and_full_validation_at_the_end(
    mockft: MockFT,
) -> None:
    """jobs/pricer_events_2025_04.json (the newest): valid_loss at steps 60 and 200 of 200,
    not at 51-59 or 193-199; the cookbook (2024-07): "validation loss=" at 290 and 300 of
    303, "full validation loss=" alone at 303; data keys in the order of
    jobs/pinolo_mutate_llm.json's events."""
    pricer = capture("jobs/pricer_events_2025_04.json")
    tenth = [s % 10 == 0 for s in pricer["steps_with_valid_loss"]]
    assert all(tenth) and not any(s % 10 == 0 for s in pricer["steps_without_valid_loss"])
    cookbook = capture("openai-cookbook/how_to_finetune_chat_models_events.json")
    last_line = cookbook["event_messages_oldest_first"][-5]
    assert last_line.startswith("Step 303/303") and "full validation loss=" in last_line
    assert ", validation loss=" not in last_line
    real_order = list(pricer["step_60"]["data"])

    job = _create(
        mockft,
        validation_file=_upload(mockft, VALID.read_bytes(), "valid.jsonl"),
        hyperparameters={"n_epochs": 3},
    )
    mockft.run_until_done(job["id"])
    metrics = [e for e in _events(mockft, job["id"]) if e["type"] == "metrics"]
    assert len(metrics) == 45
    with_valid = [e["data"]["step"] for e in metrics if "valid_loss" in e["data"]]
    assert with_valid == [10, 20, 30, 40]
    for event in metrics:
        plain = event["message"].replace("full validation loss=", "")
        assert ("validation loss=" in plain) == ("valid_loss" in event["data"])
    last = metrics[-1]
    assert last["message"].startswith("Step 45/45: training loss=")
    assert ", full validation loss=" in last["message"] and "valid_loss" not in last["data"]
    fortieth = next(e for e in metrics if e["data"]["step"] == 40)
    assert list(fortieth["data"]) == real_order


# --- item 10: hyperparameters resolve before the queue --------------------------------------


def test_hyperparameters_resolve_late_in_validating_files(mockft: MockFT) -> None:
    """jobs/pinolo_mutate_llm.json: the create answer shows "auto"; the first retrieve, still
    validating_files, n_epochs 3, batch_size 1, learning_rate_multiplier 1.8 (gpt-4o-mini);
    jobs/printed_jobs_2024_12.json: a gpt-4o-mini job of a few examples runs with batch size
    1 and multiplier 1.8, in method too."""
    real = pinolo()["mysql_job"]
    assert real["create"]["hyperparameters"] == AUTO
    assert real["first_retrieve"]["status"] == "validating_files"
    running = printed_2024_12()["running_job"]
    real_lr = real["first_retrieve"]["hyperparameters"]["learning_rate_multiplier"]
    assert running["hyperparameters"]["learning_rate_multiplier"] == real_lr

    job = _create(mockft)
    assert job["hyperparameters"] == real["create"]["hyperparameters"]
    seen = job
    while seen["status"] == "validating_files" and seen["hyperparameters"]["n_epochs"] == "auto":
        mockft.advance(1)
        seen = _job(mockft, job["id"])
    assert seen["status"] == real["first_retrieve"]["status"]
    resolved = {"n_epochs": 100 // 15, "batch_size": 1, "learning_rate_multiplier": real_lr}
    assert seen["hyperparameters"] == resolved
    assert seen["method"]["supervised"]["hyperparameters"] == resolved


# --- item 13: the order of create's checks ----------------------------------------------------


def test_a_bad_file_is_reported_before_a_bad_model(mockft: MockFT) -> None:
    """gptifier/error_strings.json: `create-job --model=foobar --file-id=foobar` against the
    real API fails with "invalid training_file: foobar"."""
    real = capture("gptifier/error_strings.json")["quotes"]["create_job_unknown_training_file"]
    response = mockft.http_client().post(
        "/v1/fine_tuning/jobs", json={"model": "foobar", "training_file": "foobar"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["message"], error["param"]) == (real["message"], "training_file")


# --- item 14: unknown hyperparameter --------------------------------------------------------


@pytest.mark.parametrize("nested_in_method", [False, True])
def test_an_unknown_hyperparameter_is_named_alone(mockft: MockFT, nested_in_method: bool) -> None:
    """jobs/simple_openai_193.json (2024-09-24): the real error body, param `nepochs`."""
    real = capture("jobs/simple_openai_193.json")
    hyperparameters = real["request"]["hyperparameters"]
    body: dict[str, Any] = {"hyperparameters": hyperparameters}
    if nested_in_method:
        body = {
            "method": {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}
        }
    response = mockft.http_client().post(
        "/v1/fine_tuning/jobs",
        json={"model": MODEL, "training_file": _upload(mockft, TRAIN.read_bytes()), **body},
    )
    assert response.status_code == 400
    assert response.json() == real["response"]


# --- item 15: the create answer ---------------------------------------------------------------


@pytest.mark.mockft(clock="system", speed=600)
def test_create_answers_validating_files_at_its_own_instant(mockft: MockFT) -> None:
    """ruby-openai finetunes_create.yml (2024-10-15) and the cookbook: a create answer is
    `validating_files`, nothing finished. At 600x, a file validated inside the request
    (the tokenizer's first load included) used to come back queued or succeeded."""
    real = response_of("finetunes_create")["body"]
    cookbook = capture("openai-cookbook/how_to_finetune_chat_models_events.json")
    assert real["status"] == cookbook["create_status"] == "validating_files"
    big = TRAIN.read_bytes() * 200  # 3,000 examples
    job = _create(mockft, training_file=_upload(mockft, big))
    assert job["status"] == real["status"]
    for field in ("finished_at", "trained_tokens", "fine_tuned_model", "estimated_finish"):
        assert job[field] is None and real[field] is None


# --- hyperparameters as JSON numbers ---------------------------------------------------------


def test_integral_hyperparameters_are_json_integers(server: Server, http: httpx.Client) -> None:
    """ruby-openai finetunes_list.yml (2023-11-14) and simple-openai finetunings_getlist.json
    (2023-11-21): "learning_rate_multiplier": 2, an integer (moved from pending_jobs.py)."""
    real = response_of("finetunes_list")["body"]["data"][0]["hyperparameters"]
    assert real == {"n_epochs": 10, "batch_size": 1, "learning_rate_multiplier": 2}
    assert isinstance(real["learning_rate_multiplier"], int)
    listed = capture("simple-openai/finetunings_getlist.json")["data"][0]["hyperparameters"]
    assert isinstance(listed["learning_rate_multiplier"], int)
    job = create_job(http, hyperparameters=real)
    done = finish(server, http, job["id"])
    assert done["hyperparameters"] == real
    assert isinstance(done["hyperparameters"]["learning_rate_multiplier"], int)
