"""Jobs: the polish branch's row of docs/fidelity.md ("Jobs"): an unknown top-level argument
of `POST /v1/fine_tuning/jobs`, worded as the endpoint's newest capture words an unknown
argument."""

from __future__ import annotations

import httpx

from tests.fidelity.conftest import capture, quote, upload_id


def test_an_unknown_top_level_argument(http: httpx.Client) -> None:
    # The captures of a top-level argument are of 2023: "invalid batch_size, extra fields
    # not permitted" (pydantic 1's wording, no value). The endpoint's newest capture of an
    # unknown argument (inside `hyperparameters`, 2024-09) reads "invalid nepochs: 2, extra
    # inputs are not permitted" with the argument as `param`: the same check, newer words.
    old = quote("jobs_create_unknown_top_level_argument")["message"]
    newest = capture("jobs/simple_openai_193.json")["response"]["error"]
    assert old.startswith("invalid batch_size, extra ")
    body = {"model": "gpt-4o-mini", "training_file": upload_id(http), "batch_size": 1}
    response = http.post("/fine_tuning/jobs", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    expected = newest["message"].replace("nepochs: 2", "batch_size: 1")
    assert (error["message"], error["param"]) == (expected, "batch_size")
    assert (error["type"], error["code"]) == (newest["type"], newest["code"])
