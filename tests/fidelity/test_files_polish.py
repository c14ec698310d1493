"""Files: the polish branch's rows of docs/fidelity.md ("Files"): `status_details` and
`expires_at` as every captured file object carries them (a documented departure from the
OpenAPI description, `NULLABLE_DEVIATIONS` in tests/openapi_contract.py)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fidelity.conftest import TRAIN, capture, response_of, upload

NEWEST = ("user_data_upload_2025_05", "fine_tune_upload_2025_08", "fine_tune_upload_2025_08_second")


def printed(key: str) -> dict[str, Any]:
    body: dict[str, Any] = capture("files/printed_files_2025.json")[key]["body"]
    return body


def our_file_objects(http: httpx.Client) -> list[dict[str, Any]]:
    """A file as the upload, the retrieve and the list answer it, and the file a completed
    Upload nests."""
    made = upload(http, "train.jsonl", TRAIN.read_bytes()).json()
    retrieved = http.get(f"/files/{made['id']}").json()
    listed = http.get("/files").json()["data"][0]
    started = http.post(
        "/uploads",
        json={"purpose": "assistants", "filename": "a.txt", "bytes": 2, "mime_type": "text/plain"},
    ).json()
    part = http.post(f"/uploads/{started['id']}/parts", files={"data": ("blob", b"hi")}).json()
    done = http.post(f"/uploads/{started['id']}/complete", json={"part_ids": [part["id"]]}).json()
    return [made, retrieved, listed, done["file"]]


def test_file_objects_carry_a_null_status_details(http: httpx.Client) -> None:
    # Every capture: ruby-openai 2023-11 to 2025-02, simple-openai's completed upload
    # 2024-07, the printed uploads of 2025.
    assert response_of("files_upload_file")["body"]["status_details"] is None
    assert response_of("files_fetch_image_upload")["body"]["status_details"] is None
    assert capture("simple-openai/uploads_complete.json")["file"]["status_details"] is None
    assert all(printed(key)["status_details"] is None for key in NEWEST)
    for ours in our_file_objects(http):
        assert "status_details" in ours and ours["status_details"] is None, ours


def test_a_file_that_does_not_expire_has_a_null_expires_at(http: httpx.Client) -> None:
    # The 2025 captures have `expires_at: null` between `created_at` and `status`; the older
    # ones (2023-11 to 2025-02) have no `expires_at`: the newest win.
    order = list(printed(NEWEST[-1]))
    assert all(list(printed(key)) == order for key in NEWEST)
    assert all(printed(key)["expires_at"] is None for key in NEWEST)
    assert "expires_at" not in response_of("files_fetch_image_upload")["body"]
    for ours in our_file_objects(http):
        assert list(ours) == order
        assert ours["expires_at"] is None
