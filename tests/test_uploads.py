"""The Uploads API: parts in any order, assembled in `part_ids` order."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import Server, calls_on_a_loop, in_process, make_settings

PARTS = [
    b"".join(
        json.dumps({"prompt": f"p{i}", "completion": f"c{i}"}).encode() + b"\n"
        for i in range(start, start + 5)
    )
    for start in (0, 5, 10)
]
WHOLE = b"".join(PARTS)


def create(client: openai.OpenAI, size: int = len(WHOLE)) -> str:
    upload = client.uploads.create(
        filename="train.jsonl", purpose="fine-tune", bytes=size, mime_type="text/jsonl"
    )
    assert upload.status == "pending"
    assert upload.expires_at == upload.created_at + 3600
    return upload.id


def test_three_parts_complete_in_part_ids_order(client: openai.OpenAI) -> None:
    upload_id = create(client)
    # Parts arrive out of order; part_ids says how they go together.
    part_ids = {i: client.uploads.parts.create(upload_id, data=PARTS[i]).id for i in (2, 0, 1)}
    done = client.uploads.complete(
        upload_id,
        part_ids=[part_ids[0], part_ids[1], part_ids[2]],
        md5=hashlib.md5(WHOLE).hexdigest(),
    )
    assert done.status == "completed"
    assert done.file is not None
    assert (done.file.bytes, done.file.filename, done.file.purpose) == (
        len(WHOLE),
        "train.jsonl",
        "fine-tune",
    )
    assert client.files.content(done.file.id).content == WHOLE
    assert client.files.retrieve(done.file.id).id == done.file.id


def test_sdk_chunked_upload_helper(client: openai.OpenAI) -> None:
    done = client.uploads.upload_file_chunked(
        file=WHOLE,
        filename="train.jsonl",
        bytes=len(WHOLE),
        mime_type="text/jsonl",
        purpose="fine-tune",
        part_size=100,
    )
    assert done.file is not None
    assert client.files.content(done.file.id).content == WHOLE


def test_wrong_byte_total_is_400_and_upload_stays_pending(client: openai.OpenAI) -> None:
    upload_id = create(client, size=len(WHOLE) + 1)
    parts = [client.uploads.parts.create(upload_id, data=p).id for p in PARTS]
    with pytest.raises(openai.BadRequestError) as info:
        client.uploads.complete(upload_id, part_ids=parts)
    assert f"({len(WHOLE)})" in info.value.message
    assert client.files.list().data == []
    # still pending: it can be cancelled
    assert client.uploads.cancel(upload_id).status == "cancelled"


def test_md5_mismatch_rejected(client: openai.OpenAI) -> None:
    upload_id = create(client)
    parts = [client.uploads.parts.create(upload_id, data=p).id for p in PARTS]
    with pytest.raises(openai.BadRequestError) as info:
        client.uploads.complete(upload_id, part_ids=parts, md5="0" * 32)
    assert info.value.param == "md5"


def test_no_parts_after_complete_or_cancel(http: httpx.Client, client: openai.OpenAI) -> None:
    upload_id = create(client, size=len(PARTS[0]))
    part = client.uploads.parts.create(upload_id, data=PARTS[0]).id
    client.uploads.complete(upload_id, part_ids=[part])
    late = http.post(f"/uploads/{upload_id}/parts", files={"data": ("blob", b"x")})
    assert late.status_code == 400
    assert "completed" in late.json()["error"]["message"]
    assert http.post(f"/uploads/{upload_id}/cancel").status_code == 400


def test_upload_expires_after_an_hour(
    client: openai.OpenAI, server: Server, http: httpx.Client
) -> None:
    upload_id = create(client)
    server.advance(3600)
    response = http.post(f"/uploads/{upload_id}/parts", files={"data": ("blob", PARTS[0])})
    assert response.status_code == 400
    assert "expired" in response.json()["error"]["message"]


def test_unknown_upload_and_foreign_part(http: httpx.Client, client: openai.OpenAI) -> None:
    missing = http.post("/uploads/upload_nope/complete", json={"part_ids": []})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No such Upload object: upload_nope"
    first, second = create(client), create(client)
    part = client.uploads.parts.create(first, data=PARTS[0]).id
    response = http.post(f"/uploads/{second}/complete", json={"part_ids": [part]})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "part_ids"


def test_create_validates_body(http: httpx.Client) -> None:
    response = http.post(
        "/uploads", json={"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 10}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "mime_type"
    assert response.json()["error"]["code"] == "missing_required_parameter"
    response = http.post(
        "/uploads",
        json={"filename": "a.jsonl", "purpose": "nope", "bytes": 10, "mime_type": "text/jsonl"},
    )
    assert response.json()["error"]["code"] == "invalid_value"


# --- completion is atomic; abandoned uploads are reclaimed -----------------------------------


def blob_names(server: Server) -> set[str]:
    """The blobs on disk, once the disk threads have moved aside the names of what was
    discarded (gone at once for the service: `blobs.keys()`)."""
    root = server.settings.data_dir / "blobs"
    deadline = time.monotonic() + 10  # for the disk threads (not a timing assertion)
    while True:
        on_disk = {p.name for p in root.iterdir()} - {".partial"}
        if on_disk == server.service.blobs.keys() or time.monotonic() > deadline:
            return on_disk
        time.sleep(0.01)


def test_a_retried_completion_answers_with_the_same_file(
    client: openai.OpenAI, http: httpx.Client, server: Server
) -> None:
    upload_id = create(client)
    parts = [client.uploads.parts.create(upload_id, data=p).id for p in PARTS]
    md5 = hashlib.md5(WHOLE).hexdigest()
    first = http.post(f"/uploads/{upload_id}/complete", json={"part_ids": parts, "md5": md5})
    again = http.post(f"/uploads/{upload_id}/complete", json={"part_ids": parts})
    with_md5 = http.post(f"/uploads/{upload_id}/complete", json={"part_ids": parts, "md5": md5})
    assert first.status_code == again.status_code == with_md5.status_code == 200
    assert first.json() == again.json() == with_md5.json()
    assert [f.id for f in client.files.list().data] == [first.json()["file"]["id"]]
    assert blob_names(server) == {first.json()["file"]["id"]}
    other = http.post(f"/uploads/{upload_id}/complete", json={"part_ids": parts[:1]})
    assert other.status_code == 400 and "completed" in other.json()["error"]["message"]
    wrong_md5 = http.post(
        f"/uploads/{upload_id}/complete", json={"part_ids": parts, "md5": "0" * 32}
    )
    assert wrong_md5.status_code == 400 and wrong_md5.json()["error"]["param"] == "md5"


def test_a_completion_that_fails_midway_leaves_no_file_and_a_pending_upload(
    client: openai.OpenAI, http: httpx.Client, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash lands after the File is recorded, before the Upload is: the transaction
    takes the File back with it."""
    upload_id = create(client)
    parts = [client.uploads.parts.create(upload_id, data=p).id for p in PARTS]
    store = server.service.store
    real_update = store.update

    def crash_on_upload(kind: str, obj_id: str, body: dict[str, object]) -> None:
        if kind == "upload":
            raise RuntimeError("power cut")
        real_update(kind, obj_id, body)

    monkeypatch.setattr(store, "update", crash_on_upload)
    failed = http.post(f"/uploads/{upload_id}/complete", json={"part_ids": parts})
    assert failed.status_code == 500
    assert client.files.list().data == []
    assert blob_names(server) == set(parts)  # the assembled bytes went with it
    monkeypatch.setattr(store, "update", real_update)

    done = http.post(f"/uploads/{upload_id}/complete", json={"part_ids": parts})
    assert done.status_code == 200
    assert [f.id for f in client.files.list().data] == [done.json()["file"]["id"]]
    assert client.files.content(done.json()["file"]["id"]).content == WHOLE


def test_abandoned_uploads_give_their_bytes_back_after_an_hour(
    client: openai.OpenAI, http: httpx.Client, server: Server
) -> None:
    abandoned = create(client)
    parts = [client.uploads.parts.create(abandoned, data=p).id for p in PARTS[:2]]
    assert blob_names(server) == set(parts)
    server.advance(3599)
    create(client)  # still within the hour: the parts stay
    assert blob_names(server) == set(parts)
    server.advance(1)
    create(client)  # any look at uploads after the hour reclaims them
    assert blob_names(server) == set()
    late = http.post(f"/uploads/{abandoned}/complete", json={"part_ids": parts})
    assert late.status_code == 400
    assert (
        late.json()["error"]["message"]
        == f"Cannot modify upload {abandoned} because it is expired."
    )


def test_expired_parts_are_reclaimed_at_start_up(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with in_process(settings) as server:
        sdk = server.openai(api_key="k", max_retries=0)
        upload_id = create(sdk)
        sdk.uploads.parts.create(upload_id, data=PARTS[0])
        server.advance(7200)  # nobody looks at uploads again before the server stops
        assert len(blob_names(server)) == 1
        sdk.close()
    with in_process(settings) as server:
        assert blob_names(server) == set()


def test_uploaded_bytes_are_made_durable_off_the_event_loop(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fsync of a large file can take seconds: on the event loop it would stall every
    other request, so a File's and a Part's bytes reach the disk from a worker thread."""
    on_a_loop = calls_on_a_loop(monkeypatch, os, "fsync")
    client.files.create(file=("t.jsonl", PARTS[0]), purpose="fine-tune")
    upload_id = create(client)
    client.uploads.parts.create(upload_id, data=PARTS[1])
    assert on_a_loop == [False, False]  # one fsync each, neither on a loop


def test_a_completions_checksum_is_computed_off_the_event_loop(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading a GB of parts back for their md5 takes seconds: not on the event loop."""
    from mockft.service import uploads

    on_a_loop = calls_on_a_loop(monkeypatch, uploads, "_md5")
    upload_id = create(client)
    part_ids = [client.uploads.parts.create(upload_id, data=p).id for p in PARTS]
    done = client.uploads.complete(upload_id, part_ids=part_ids, md5=hashlib.md5(WHOLE).hexdigest())
    assert done.status == "completed"
    assert on_a_loop == [False]
