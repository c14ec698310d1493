"""A full disk: writes answer a clear error that names the cause and that the SDK does not
retry (507, `x-should-retry: false`), nothing half-written stays, and space can be freed
through the API (`DELETE /v1/files/{id}` works on a full disk).

Injected at the two places bytes meet the disk (the blob writer, SQLite), and, where the
machine lets an unprivileged user mount one (a user namespace), on a real 3 MB tmpfs."""

from __future__ import annotations

import errno
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from mockft.pytest_plugin.live import PYTHON_MOCKFT, ServeProcess
from mockft.store import blobs
from tests.conftest import FIXTURES, Server

TRAIN = (FIXTURES / "train_chat.jsonl").read_bytes()


def no_space(*args: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def stray_bytes(server: Server) -> list[Path]:
    root = server.settings.data_dir / "blobs"
    return sorted((root / ".partial").iterdir())


def test_a_write_on_a_full_disk_is_a_507_the_sdk_does_not_retry(
    server: Server, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blobs, "_write_all", no_space)
    retrying = server.openai(api_key="k", max_retries=2)
    with pytest.raises(openai.APIStatusError) as full:
        retrying.files.create(file=("t.jsonl", TRAIN * 2000), purpose="fine-tune")
    assert full.value.status_code == 507
    assert full.value.response.headers["x-should-retry"] == "false"
    assert "disk is full" in full.value.message
    assert full.value.code == "insufficient_storage"
    attempts = [r for r in server.service.control.requests.entries() if r.path == "/v1/files"]
    assert len(attempts) == 1  # not retried
    assert stray_bytes(server) == []
    assert client.files.list().data == []
    retrying.close()


def test_a_store_write_on_a_full_disk_is_a_507(
    server: Server, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = server.service.store

    def full(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "insert", full)
    refused = http.post(
        "/uploads", json={"filename": "a.jsonl", "purpose": "batch", "bytes": 1, "mime_type": "x"}
    )
    assert refused.status_code == 507
    assert refused.headers["x-should-retry"] == "false"


def test_delete_frees_space_when_the_store_cannot_record_it(
    server: Server, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = client.files.create(file=("t.jsonl", TRAIN), purpose="fine-tune")
    store = server.service.store
    real_delete = store.delete
    calls: list[str] = []

    def full_until_space_is_freed(kind: str, obj_id: str) -> bool:
        calls.append(obj_id)
        if (server.settings.data_dir / "blobs" / obj_id).exists():
            raise sqlite3.OperationalError("database or disk is full")
        return real_delete(kind, obj_id)

    monkeypatch.setattr(store, "delete", full_until_space_is_freed)
    assert client.files.delete(made.id).deleted
    assert len(calls) == 2  # refused, then done once the bytes were gone
    monkeypatch.setattr(store, "delete", real_delete)
    assert client.files.list().data == []
    assert not (server.settings.data_dir / "blobs" / made.id).exists()


def test_start_up_finishes_a_deletion_a_crash_cut_short(tmp_path: Path) -> None:
    """The bytes were deleted (space freed), the server died before recording it."""
    from tests.conftest import in_process, make_settings

    settings = make_settings(tmp_path)
    with in_process(settings) as server:
        sdk = server.openai(api_key="k", max_retries=0)
        made = sdk.files.create(file=("t.jsonl", TRAIN), purpose="fine-tune")
        kept = sdk.files.create(file=("u.jsonl", TRAIN), purpose="fine-tune")
        sdk.close()
    (settings.data_dir / "blobs" / made.id).unlink()
    with in_process(settings) as server:
        sdk = server.openai(api_key="k", max_retries=0)
        assert [f.id for f in sdk.files.list().data] == [kept.id]
        sdk.close()


# --- a real full disk ---------------------------------------------------------------------


def _user_namespaces() -> bool:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return False
    probe = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            "mount -t tmpfs -o size=1m tmpfs /mnt 2>/dev/null || "
            "mount -t tmpfs -o size=1m tmpfs /tmp",
        ],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not _user_namespaces(),
    reason="no unprivileged mount namespace here; the injected cases above cover the paths",
)
def test_on_a_really_full_disk_writes_fail_cleanly_and_delete_frees_space(tmp_path: Path) -> None:
    mount = tmp_path / "disk"
    mount.mkdir()
    # `mockft serve` in a mount namespace of its own, on a 3 MB tmpfs: "$0" "$@" is the
    # command ServeProcess runs.
    mounted = f'mount -t tmpfs -o size=3m tmpfs {mount} && exec "$0" "$@"'
    flags = ("--data-dir", str(mount / "data"), "--clock", "manual", "--log-level", "warning")
    command = ("unshare", "-rm", "sh", "-c", mounted, *PYTHON_MOCKFT)
    with ServeProcess(*flags, command=command, log=tmp_path / "serve.log") as served:
        with httpx.Client(base_url=served.base_url, headers={"Authorization": "Bearer k"}) as http:
            chunk = b'{"a": "' + b"x" * 200_000 + b'"}\n'
            made: list[str] = []
            for _ in range(40):  # 40 x 200 kB cannot fit in 3 MB
                answer = http.post(
                    "/files", files={"file": ("f.jsonl", chunk)}, data={"purpose": "batch"}
                )
                if answer.status_code != 200:
                    break
                made.append(answer.json()["id"])
            assert answer.status_code == 507, answer.text
            assert answer.headers["x-should-retry"] == "false"
            listed = http.get("/files", params={"order": "asc"}).json()["data"]
            assert [f["id"] for f in listed] == made
            for file_id in made[:3]:
                assert http.delete(f"/files/{file_id}").status_code == 200
            again = http.post(
                "/files", files={"file": ("f.jsonl", chunk)}, data={"purpose": "batch"}
            )
            assert again.status_code == 200, again.text
            ids = [f["id"] for f in http.get("/files", params={"order": "asc"}).json()["data"]]
            assert ids == [*made[3:], again.json()["id"]]
            for file_id in ids:
                assert len(http.get(f"/files/{file_id}/content").content) == len(chunk)
