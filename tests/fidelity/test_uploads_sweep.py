"""Uploads: the sweep's rows of docs/fidelity.md ("Uploads"), from simple-openai's recorded
bodies (2024-07-20)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fidelity.conftest import assert_has_shape, capture

DATA = b"%PDF-1.4 a small pdf"


def real(name: str) -> dict[str, Any]:
    body: dict[str, Any] = capture(f"simple-openai/{name}.json")
    return body


def create(http: httpx.Client, filename: str = "constitucion.pdf") -> dict[str, Any]:
    body = {
        "purpose": "assistants",
        "filename": filename,
        "bytes": len(DATA),
        "mime_type": "application/pdf",
    }
    response = http.post("/uploads", json=body)
    assert response.status_code == 200, response.text
    upload: dict[str, Any] = response.json()
    return upload


def add_part(http: httpx.Client, upload_id: str, data: bytes = DATA) -> dict[str, Any]:
    response = http.post(f"/uploads/{upload_id}/parts", files={"data": ("blob", data)})
    assert response.status_code == 200, response.text
    part: dict[str, Any] = response.json()
    return part


def test_create_is_pending_for_an_hour_with_no_file(http: httpx.Client) -> None:
    recorded = real("uploads_create")
    ours = create(http)
    assert set(ours) == set(recorded)
    assert_has_shape(ours, recorded)
    assert (ours["object"], ours["status"]) == (recorded["object"], recorded["status"])
    real_ttl = recorded["expires_at"] - recorded["created_at"]
    assert ours["expires_at"] - ours["created_at"] == real_ttl
    assert ours["id"].startswith("upload_")


def test_add_part_answers_an_upload_part(http: httpx.Client) -> None:
    recorded = real("uploads_add_part")
    upload = create(http)
    part = add_part(http, upload["id"])
    assert set(part) == set(recorded)
    assert (part["object"], part["upload_id"]) == (recorded["object"], upload["id"])
    assert part["id"].startswith("part_")


def test_complete_nests_the_processed_file(http: httpx.Client) -> None:
    recorded = real("uploads_complete")
    upload = create(http, recorded["filename"])
    part = add_part(http, upload["id"])
    done = http.post(f"/uploads/{upload['id']}/complete", json={"part_ids": [part["id"]]}).json()
    assert_has_shape(done, recorded)
    assert_has_shape(done["file"], recorded["file"])
    assert done["status"] == recorded["status"]
    assert done["expires_at"] == upload["expires_at"]
    file = done["file"]
    assert (file["object"], file["status"]) == (recorded["file"]["object"], "processed")
    # As recorded: the file carries the upload's name, size and purpose.
    assert (file["filename"], file["bytes"], file["purpose"]) == (
        done["filename"],
        done["bytes"],
        done["purpose"],
    )
    assert file["bytes"] == len(DATA)
    # An assistants file is never downloaded (see test_data_data.py's download row).
    assert http.get(f"/files/{file['id']}/content").status_code == 400


def test_cancel_answers_the_cancelled_upload(http: httpx.Client) -> None:
    recorded = real("uploads_cancel")
    upload = create(http)
    cancelled = http.post(f"/uploads/{upload['id']}/cancel").json()
    assert set(cancelled) == set(recorded)
    assert cancelled["status"] == recorded["status"]
    assert cancelled["expires_at"] - cancelled["created_at"] == (
        recorded["expires_at"] - recorded["created_at"]
    )
