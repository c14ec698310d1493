"""The Files API through the unchanged official SDK and raw HTTP."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import Server, calls_on_a_loop

SAMPLE = b"".join(
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": f"question {i}"},
                {"role": "assistant", "content": f"answer {i}"},
            ]
        }
    ).encode()
    + b"\n"
    for i in range(12)
)


def upload(client: openai.OpenAI, name: str = "train.jsonl", data: bytes = SAMPLE) -> str:
    return client.files.create(file=(name, io.BytesIO(data)), purpose="fine-tune").id


def test_upload_list_retrieve_download_delete(client: openai.OpenAI) -> None:
    created = client.files.create(file=("train.jsonl", io.BytesIO(SAMPLE)), purpose="fine-tune")
    assert created.id.startswith("file-") and len(created.id) == len("file-") + 22
    assert (created.object, created.purpose, created.filename) == (
        "file",
        "fine-tune",
        "train.jsonl",
    )
    assert created.bytes == len(SAMPLE)
    assert created.status == "processed"

    assert client.files.retrieve(created.id) == created
    assert client.files.content(created.id).content == SAMPLE

    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)
    with pytest.raises(openai.NotFoundError) as info:
        client.files.retrieve(created.id)
    assert info.value.body == {
        "message": f"No such File object: {created.id}",
        "type": "invalid_request_error",
        "param": "id",
        "code": None,
    }


def test_list_pages_newest_first_with_cursor(client: openai.OpenAI) -> None:
    ids = [upload(client, f"f{i}.jsonl") for i in range(5)]
    first = client.files.list(limit=2)
    assert [f.id for f in first.data] == ids[::-1][:2]
    assert first.has_more
    walked = [f.id for f in client.files.list(limit=2)]  # the SDK follows `after` itself
    assert walked == ids[::-1]
    ascending = client.files.list(order="asc", limit=3)
    assert [f.id for f in ascending.data] == ids[:3]


def test_list_envelope_and_purpose_filter(http: httpx.Client, client: openai.OpenAI) -> None:
    tuned = upload(client)
    other = client.files.create(file=("notes.txt", io.BytesIO(b"hello")), purpose="assistants")
    body = http.get("/files", params={"purpose": "fine-tune"}).json()
    assert body == {
        "object": "list",
        "data": [http.get(f"/files/{tuned}").json()],
        "first_id": tuned,
        "last_id": tuned,
        "has_more": False,
    }
    assert [f["id"] for f in http.get("/files").json()["data"]] == [other.id, tuned]


def test_file_object_has_the_fields_of_the_2025_captures_in_their_order(
    http: httpx.Client,
) -> None:
    files = {"file": ("train.jsonl", SAMPLE)}
    body = http.post("/files", files=files, data={"purpose": "fine-tune"}).json()
    assert list(body) == [
        "object", "id", "purpose", "filename", "bytes", "created_at", "expires_at", "status",
        "status_details",
    ]  # fmt: skip
    assert (body["expires_at"], body["status_details"]) == (None, None)


def test_expiring_file_vanishes_when_the_clock_passes(http: httpx.Client, server: Server) -> None:
    body = http.post(
        "/files",
        files={"file": ("a.jsonl", SAMPLE)},
        data={
            "purpose": "fine-tune",
            "expires_after[anchor]": "created_at",
            "expires_after[seconds]": "3600",
        },
    ).json()
    assert body["expires_at"] == body["created_at"] + 3600
    server.advance(3599)
    assert http.get(f"/files/{body['id']}").status_code == 200
    server.advance(1)
    assert http.get(f"/files/{body['id']}").status_code == 404
    assert http.get("/files").json()["data"] == []


def test_batch_files_expire_after_30_days_by_default(http: httpx.Client) -> None:
    body = http.post("/files", files={"file": ("b.jsonl", b"{}\n")}, data={"purpose": "batch"})
    assert body.json()["expires_at"] == body.json()["created_at"] + 30 * 24 * 3600


@pytest.mark.parametrize(
    ("name", "data", "purpose", "message", "param"),
    [
        (
            "train.txt",
            SAMPLE,
            "fine-tune",
            "Invalid file format for Fine-Tuning API. Must be .jsonl",
            "file",
        ),
        (
            "train.jsonl",
            b"not json\n",
            "fine-tune",
            "Expected file to have JSONL format, where every line is a JSON dictionary. "
            'Line 1 is not a dictionary (HINT: line starts with: "not...").',
            None,
        ),
        (
            "train.jsonl",
            SAMPLE,
            "bogus",
            "'bogus' is not one of ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', "
            "'evals'] - 'purpose'",
            "purpose",
        ),
    ],
)
def test_rejected_uploads_use_the_real_wording_and_store_nothing(
    http: httpx.Client, name: str, data: bytes, purpose: str, message: str, param: str | None
) -> None:
    response = http.post("/files", files={"file": (name, data)}, data={"purpose": purpose})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message
    assert response.json()["error"]["param"] == param
    assert http.get("/files").json()["data"] == []


def test_missing_fields_name_the_param(http: httpx.Client) -> None:
    no_purpose = http.post("/files", files={"file": ("a.jsonl", SAMPLE)})
    assert no_purpose.status_code == 400
    assert no_purpose.json()["error"]["code"] == "missing_required_parameter"
    assert no_purpose.json()["error"]["param"] == "purpose"
    no_file = http.post("/files", files={"x": (None, "1")}, data={"purpose": "fine-tune"})
    assert no_file.json()["error"]["param"] in {"file", "x"}
    assert no_file.status_code == 400


def test_size_limit_is_enforced_while_streaming(tmp_path: object) -> None:

    from tests.conftest import live_server, make_settings

    assert isinstance(tmp_path, Path)
    with live_server(make_settings(tmp_path, max_file_bytes=1000)) as live:
        with httpx.Client(base_url=live.base_url, headers={"Authorization": "Bearer k"}) as http:
            response = http.post(
                "/files", files={"file": ("a.jsonl", b"{}\n" * 400)}, data={"purpose": "fine-tune"}
            )
            assert response.status_code == 413
            assert (
                "Maximum content size limit (1000) exceeded" in response.json()["error"]["message"]
            )
            assert http.get("/files").json()["data"] == []
            assert list((live.settings.data_dir / "blobs").glob("file-*")) == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"limit": "0"}, "integer_below_min_value"),
        ({"limit": "10001"}, "integer_above_max_value"),
        ({"limit": "ten"}, "invalid_type"),
        ({"order": "sideways"}, "invalid_value"),
    ],
)
def test_bad_list_parameters(http: httpx.Client, query: dict[str, str], code: str) -> None:
    response = http.get("/files", params=query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["param"] in query


@pytest.mark.parametrize(
    ("data", "bad"),
    [
        (b'{"a":1}\n{"b":2}\n', None),
        (b'{"a":1}\n\n  {"b":2} \r\n', None),
        (b'\n\n\n{"a":1}\n', None),
        (b'{"a":1}', None),
        (b'{"a":1}\nnot json\n', (2, b"not json")),
        (b"not json", (1, b"not json")),
        (b'{"a": 1\n', (1, b'{"a": 1')),
        (b'{"a":1}\n{bad}\n', (2, b"{bad}")),
        (b"[1,2]\n", (1, b"[1,2]")),
        (b'\n{"a":1}\n\nzz\n', (4, b"zz")),
        (b'{"x":1}\n' * 99 + b"{oops\n", (100, b"{oops")),
        # Only the head is read at upload: line 101 is the job validation's to find.
        (b'{"x":1}\n' * 100 + b"{oops\n", None),
    ],
)
@pytest.mark.parametrize("chunk_size", [1, 3, 1 << 20])
def test_upload_check_finds_the_first_bad_line_of_the_head(
    data: bytes, bad: tuple[int, bytes] | None, chunk_size: int
) -> None:
    from mockft.service.files import first_non_dict_line

    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    assert first_non_dict_line(iter(chunks)) == bad


def test_upload_check_reads_only_the_head() -> None:
    from mockft.service.files import first_non_dict_line

    read = []

    def chunks() -> Iterator[bytes]:
        for _ in range(1000):
            read.append(1)
            yield b'{"x":1}\n' * 10

    assert first_non_dict_line(chunks()) is None
    assert len(read) == 10


def test_a_deleted_files_bytes_are_freed_off_the_event_loop(
    server: Server, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unlink waits for the file's pages (seconds while the disk is busy): the bytes are
    freed on a writer thread, and the DELETE answers once they are, leaving nothing."""
    from mockft.store import blobs

    on_a_loop = calls_on_a_loop(monkeypatch, blobs, "_remove")
    content = b'{"prompt": "a", "completion": "b"}\n'
    file = client.files.create(file=("t.jsonl", content), purpose="user_data")
    root = server.settings.data_dir / "blobs"
    assert (root / file.id).exists()
    assert client.files.delete(file.id).deleted
    assert on_a_loop == [False]  # done, and not on the loop, when the answer came
    assert not (root / file.id).exists()
    assert list((root / ".partial").iterdir()) == []
