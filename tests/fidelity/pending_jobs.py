"""Jobs: sourced rows where mockft still deviates (area of the `jobs` branch). Not
collected by pytest (no `test_` prefix): a later round moves each test into a collected
file together with its fix. Each deviation is listed in the round's deviations file."""

from __future__ import annotations

import httpx

from tests.fidelity.conftest import quote, upload_id


def test_an_unknown_top_level_argument(http: httpx.Client) -> None:
    # The only captures are of 2023 (pydantic-1 wording); issue 12 item 14 shows the
    # hyperparameters' form of 2025: "invalid nepochs: 2, extra inputs are not permitted".
    real = quote("jobs_create_unknown_top_level_argument")
    body = {"model": "gpt-4o-mini", "training_file": upload_id(http), "batch_size": 1}
    response = http.post("/fine_tuning/jobs", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == real["message"]
