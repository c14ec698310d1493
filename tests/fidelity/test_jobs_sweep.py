"""Jobs: the sweep's rows of docs/fidelity.md ("Jobs"), each asserted from its capture."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import Server
from tests.fidelity.conftest import (
    assert_has_shape,
    capture,
    create_job,
    finish,
    quote,
    response_of,
    upload_id,
)

# `error` on a job that has not failed is issue 12's item 1 (jobs branch), not a sweep row.
ERROR = ("error",)


def test_create_answers_a_validating_job_with_auto_hyperparameters(http: httpx.Client) -> None:
    real = response_of("finetunes_create")["body"]
    job = create_job(http)
    assert_has_shape(job, real, skip=ERROR)
    for key in ("object", "status", "hyperparameters", "result_files", "integrations"):
        assert job[key] == real[key], key
    for key in ("finished_at", "fine_tuned_model", "trained_tokens", "estimated_finish"):
        assert job[key] is None, key
    assert job["user_provided_suffix"] is None
    assert isinstance(job["seed"], int)
    assert re.fullmatch(r"ftjob-[A-Za-z0-9]{24}", job["id"])


def test_create_echoes_the_suffix_as_user_provided_suffix(http: httpx.Client) -> None:
    real = quote("jobs_create_suffix_echo")["body"]
    job = create_job(http, suffix=real["user_provided_suffix"])
    assert {key: job[key] for key in real if key != "model"} == {
        key: value for key, value in real.items() if key != "model"
    }


def test_create_with_an_unknown_training_file(http: httpx.Client) -> None:
    expected = capture("gptifier/error_strings.json")["quotes"]["create_job_unknown_training_file"]
    response = http.post(
        "/fine_tuning/jobs", json={"training_file": "foobar", "model": "gpt-3.5-turbo"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["message"], error["type"]) == (expected["message"], "invalid_request_error")


def test_create_on_a_model_that_cannot_be_tuned(http: httpx.Client) -> None:
    real = quote("jobs_model_not_fine_tunable")["message"]
    model = "ft:gpt-3.5-turbo-0613:tar....MFz"  # someone else's model, as in the capture
    response = http.post(
        "/fine_tuning/jobs", json={"model": model, "training_file": upload_id(http)}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == real


@pytest.mark.parametrize("cassette", ["finetunes_retrieve", "finetunes_cancel"])
def test_unknown_job_is_404(http: httpx.Client, cassette: str) -> None:
    recorded = capture(f"ruby-openai/{cassette}.json")[0]
    method, path = recorded["request"]["method"], recorded["request"]["path"].removeprefix("/v1")
    response = http.request(method, path)
    assert response.status_code == recorded["response"]["status"]
    assert response.json() == recorded["response"]["body"]


def test_list_is_object_data_has_more(http: httpx.Client) -> None:
    real = response_of("finetunes_list")["body"]
    create_job(http)
    body = http.get("/fine_tuning/jobs").json()
    assert set(body) == set(real) - {"_note"}
    assert (body["object"], body["has_more"]) == (real["object"], False)


def test_succeeded_job_names_its_model_files_and_tokens(server: Server, http: httpx.Client) -> None:
    real = response_of("finetunes_list")["body"]["data"][0]
    job = finish(server, http, create_job(http)["id"])
    # `error` is null in this 2023 capture, {} in the newer ones (test_jobs_jobs.py)
    assert_has_shape(job, real, skip=("error",))
    assert job["status"] == real["status"] == "succeeded"
    assert job["finished_at"] >= job["created_at"]
    assert len(job["result_files"]) == len(real["result_files"]) == 1
    assert isinstance(job["trained_tokens"], int) and job["trained_tokens"] > 0
    assert isinstance(job["hyperparameters"]["n_epochs"], int)
    assert isinstance(job["hyperparameters"]["batch_size"], int)


def test_fine_tuned_model_without_a_suffix_leaves_its_slot_empty(
    server: Server, http: httpx.Client
) -> None:
    real = response_of("finetunes_list")["body"]["data"][0]["fine_tuned_model"]
    assert re.fullmatch(r"ft:gpt-3\.5-turbo-0613:personal::[A-Za-z0-9]{8}", real)
    job = finish(server, http, create_job(http)["id"])
    org = http.get("/models").headers["openai-organization"]
    assert re.fullmatch(
        rf"ft:{re.escape(job['model'])}:{org}::[A-Za-z0-9]{{8}}", job["fine_tuned_model"]
    )


def test_fine_tuned_model_with_a_suffix(server: Server, http: httpx.Client) -> None:
    real = capture("openai-cookbook/how_to_finetune_chat_models_events.json")
    suffix = real["request"]["create"]["suffix"]
    assert re.fullmatch(
        rf"ft:gpt-4o-mini-2024-07-18:[a-z-]+:{suffix}:[A-Za-z0-9]{{8}}", real["fine_tuned_model"]
    )
    job = finish(server, http, create_job(http, suffix=suffix)["id"])
    org = http.get("/models").headers["openai-organization"]
    assert re.fullmatch(
        rf"ft:gpt-4o-mini-2024-07-18:{org}:{suffix}:[A-Za-z0-9]{{8}}", job["fine_tuned_model"]
    )


def test_a_job_on_an_alias_reports_the_snapshot(server: Server, http: httpx.Client) -> None:
    # The 2023 notebook tuned "gpt-3.5-turbo" and got ft:gpt-3.5-turbo-0613:personal:recipe-ner:…;
    # the 2023-11 job list shows model "gpt-3.5-turbo-0613". Which snapshot an alias names
    # changes over time; that the job and its model carry the snapshot does not.
    real = response_of("finetunes_list")["body"]["data"][0]
    assert real["fine_tuned_model"].startswith(f"ft:{real['model']}:")
    job = create_job(http, model="gpt-3.5-turbo")
    assert job["model"].startswith("gpt-3.5-turbo-") and job["model"] != "gpt-3.5-turbo"
    done = finish(server, http, job["id"])
    assert done["fine_tuned_model"].startswith(f"ft:{job['model']}:")
