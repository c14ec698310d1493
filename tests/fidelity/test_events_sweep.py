"""Events and checkpoints: the sweep's rows of docs/fidelity.md ("Events and checkpoints"),
each asserted from its capture."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import Server
from tests.fidelity.conftest import (
    VALID,
    assert_has_shape,
    capture,
    create_job,
    events,
    finish,
    upload_id,
)

COOKBOOK = "openai-cookbook/how_to_finetune_chat_models_events.json"
METRICS = re.compile(r"Step (\d+)/(\d+): training loss=\d+\.\d\d")
WITH_VALIDATION = re.compile(METRICS.pattern + r", validation loss=\d+\.\d\d")
FULL_VALIDATION = re.compile(
    METRICS.pattern + r"(, validation loss=\d+\.\d\d)?, full validation loss=\d+\.\d\d"
)


def all_events(http: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = events(http, job_id, limit=1000)["data"]
    return data


def test_events_of_an_unknown_job_are_404(http: httpx.Client) -> None:
    recorded = capture("ruby-openai/finetunes_event_list.json")[0]
    response = http.get(recorded["request"]["path"].removeprefix("/v1"))
    assert response.status_code == recorded["response"]["status"]
    assert response.json() == recorded["response"]["body"]


def test_a_success_ends_with_the_model_then_completion_messages(
    server: Server, http: httpx.Client
) -> None:
    real = capture("simple-openai/finetunings_getevents.json")["data"]
    job = finish(server, http, create_job(http)["id"])
    newest = events(http, job["id"])["data"][:2]
    for ours, recorded in zip(newest, real):
        assert set(ours) == set(recorded)
        for key in ("object", "level", "data", "type"):
            assert ours[key] == recorded[key], key
        assert re.fullmatch(r"ftevent-[A-Za-z0-9]{24}", ours["id"])
    assert newest[0]["message"] == real[0]["message"] == "The job has successfully completed"
    prefix = "New fine-tuned model created: "
    assert real[1]["message"].startswith(prefix)
    assert newest[1]["message"] == prefix + job["fine_tuned_model"]


def test_events_come_newest_first(server: Server, http: httpx.Client) -> None:
    real = capture("simple-openai/finetunings_getevents.json")["data"]
    assert real[0]["created_at"] >= real[1]["created_at"]
    job = finish(server, http, create_job(http)["id"])
    stamps = [event["created_at"] for event in all_events(http, job["id"])]
    assert stamps == sorted(stamps, reverse=True)


def test_the_default_page_is_twenty_events_with_has_more(
    server: Server, http: httpx.Client
) -> None:
    real = capture(COOKBOOK)["event_messages_oldest_first"]
    assert len(real) == 20  # one default page, printed oldest first
    assert capture("simple-openai/finetunings_getevents.json")["has_more"] is True
    job = finish(server, http, create_job(http)["id"])
    page = events(http, job["id"])
    assert len(all_events(http, job["id"])) > 20
    assert (len(page["data"]), page["has_more"]) == (20, True)


def test_metrics_events_say_step_and_training_loss(server: Server, http: httpx.Client) -> None:
    real = capture(COOKBOOK)["event_messages_oldest_first"]
    assert METRICS.fullmatch(real[0])
    recorded = capture("openai-php/fine_tuning_metrics_event.json")["event"]
    job = finish(server, http, create_job(http)["id"])
    metrics = [e for e in all_events(http, job["id"]) if e["type"] == "metrics"]
    assert metrics
    for event in metrics:
        match = METRICS.fullmatch(event["message"])
        assert match is not None, event["message"]
        assert_has_shape(event, recorded)
        assert_has_shape(event["data"], recorded["data"])
        assert (event["object"], event["level"]) == (recorded["object"], recorded["level"])
        assert event["data"]["step"] == int(match.group(1))


def run_with_validation(server: Server, http: httpx.Client) -> list[dict[str, Any]]:
    job = create_job(http, validation_file=upload_id(http, VALID))
    finish(server, http, job["id"])
    return [e for e in all_events(http, job["id"]) if e["type"] == "metrics"]


def test_metrics_with_a_validation_file_add_validation_loss(
    server: Server, http: httpx.Client
) -> None:
    real = capture(COOKBOOK)["event_messages_oldest_first"]
    assert any(WITH_VALIDATION.fullmatch(message) for message in real)
    metrics = run_with_validation(server, http)
    assert any(WITH_VALIDATION.fullmatch(event["message"]) for event in metrics)


def test_the_last_step_reports_the_full_validation_loss(server: Server, http: httpx.Client) -> None:
    real = capture(COOKBOOK)["event_messages_oldest_first"]
    last_real = [m for m in real if METRICS.match(m)][-1]
    match = FULL_VALIDATION.fullmatch(last_real)
    assert match is not None and match.group(1) == match.group(2)
    last = run_with_validation(server, http)[0]  # newest first
    match = FULL_VALIDATION.fullmatch(last["message"])
    assert match is not None, last["message"]
    assert match.group(1) == match.group(2)
    assert {"full_valid_loss", "full_valid_mean_token_accuracy"} <= set(last["data"])
