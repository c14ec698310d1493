"""Files and uploads: sourced rows where mockft still deviates on purpose (a documented
departure that contradicts the OpenAPI description). Not collected by pytest (no `test_`
prefix); the lead decides, see the round's deviations file."""

from __future__ import annotations

import httpx

from tests.fidelity.conftest import TRAIN, capture, response_of, upload


def test_file_objects_carry_a_null_status_details(http: httpx.Client) -> None:
    # Every capture 2023-11 .. 2025-02 (ruby-openai), 2024-05 (venice), 2024-07 (uploads).
    assert response_of("files_upload_file")["body"]["status_details"] is None
    assert capture("simple-openai/uploads_complete.json")["file"]["status_details"] is None
    body = upload(http, "train.jsonl", TRAIN.read_bytes()).json()
    assert "status_details" in body and body["status_details"] is None
