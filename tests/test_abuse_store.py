"""A data dir whose SQLite store was damaged by hand: a row whose body is not JSON, or not
an object, or a job, file or upload whose fields have the wrong types. The server still
starts, the lists answer (skipping the unreadable row, as unreadable stored records are
skipped elsewhere), the row itself is a 404 and every other object stays reachable."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import API_KEY, in_process, make_settings, raw_http
from tests.training import SNAPSHOT, checked_sdk, finish, upload

LISTS = ("/files", "/fine_tuning/jobs", "/models")
WRONG = "every field but the id of the wrong type"


def two_finished_jobs(tmp_path: Path) -> tuple[list[str], list[str]]:
    """Two files and two succeeded jobs on them, in a data dir under tmp_path."""
    with in_process(make_settings(tmp_path)) as server, checked_sdk(server) as sdk:
        files = [upload(sdk), upload(sdk)]
        jobs = [sdk.fine_tuning.jobs.create(model=SNAPSHOT, training_file=f).id for f in files]
        for job in jobs:
            assert finish(server, sdk, job).status == "succeeded"
    return files, jobs


def damage(tmp_path: Path, kind: str, obj_id: str, body: str) -> None:
    with sqlite3.connect(tmp_path / "data" / "mockft.sqlite3") as db:
        changed = db.execute(
            "UPDATE objects SET body = ? WHERE kind = ? AND id = ?", (body, kind, obj_id)
        ).rowcount
    assert changed == 1


def wrong_types(tmp_path: Path, obj_id: str) -> str:
    with sqlite3.connect(tmp_path / "data" / "mockft.sqlite3") as db:
        (text,) = db.execute("SELECT body FROM objects WHERE id = ?", (obj_id,)).fetchone()
    doc = orjson.loads(text)
    keep = {"id", "object", "organization_id"}
    return orjson.dumps({k: v if k in keep else {"x": [1]} for k, v in doc.items()}).decode()


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", "null", WRONG])
def test_an_unreadable_job_or_file_row_is_skipped_not_a_500(tmp_path: Path, body: str) -> None:
    files, jobs = two_finished_jobs(tmp_path)
    for kind, obj_id in (("job", jobs[0]), ("file", files[0])):
        damage(tmp_path, kind, obj_id, wrong_types(tmp_path, obj_id) if body == WRONG else body)
    with in_process(make_settings(tmp_path)) as server:  # starts
        with raw_http(server, API_KEY) as http:
            for path in LISTS:
                answer = http.get(path)
                assert answer.status_code == 200, (path, answer.text)
            listed = [j["id"] for j in http.get("/fine_tuning/jobs").json()["data"]]
            assert listed == [jobs[1]]
            assert http.get(f"/fine_tuning/jobs/{jobs[0]}").status_code == 404
            assert http.post(f"/fine_tuning/jobs/{jobs[0]}/cancel").status_code == 404
            assert http.get(f"/fine_tuning/jobs/{jobs[0]}/events").status_code == 404
            assert http.get(f"/fine_tuning/jobs/{jobs[1]}").json()["status"] == "succeeded"
            assert http.get(f"/files/{files[1]}/content").status_code == 200
            assert files[0] not in [f["id"] for f in http.get("/files").json()["data"]]
            assert http.get(f"/files/{files[0]}").status_code == 404
            assert http.get(f"/files/{files[0]}/content").status_code == 404
            # the organization goes on working: a new job on the readable file
            created = http.post(
                "/fine_tuning/jobs", json={"model": SNAPSHOT, "training_file": files[1]}
            )
            assert created.status_code == 200, created.text


@pytest.mark.parametrize("stored", ["{bad", "null", '[{"x": 1}]', '[{"at": "0"}]', "[1]"])
def test_unreadable_stored_limits_do_not_stop_the_server(tmp_path: Path, stored: str) -> None:
    settings = make_settings(tmp_path)
    with in_process(settings) as server, raw_http(server, API_KEY) as http:
        set_limits = http.post(f"{server.root_url}/mockft/limits", json={"max_running_jobs": 1})
        assert set_limits.status_code == 200, set_limits.text
    with sqlite3.connect(tmp_path / "data" / "mockft.sqlite3") as db:
        assert db.execute("UPDATE meta SET value = ? WHERE key = 'limits'", (stored,)).rowcount
    with in_process(settings) as server, raw_http(server, API_KEY) as http:  # starts
        limits = http.get(f"{server.root_url}/mockft/limits").json()
        # what the flags say (none here), as on a new data dir
        assert limits == {
            "object": "mockft.limits",
            "max_jobs_per_day": None,
            "max_running_jobs": None,
        }
        assert (
            http.post(f"{server.root_url}/mockft/limits", json={"max_running_jobs": 2}).status_code
            == 200
        )


def test_an_unreadable_model_row_is_a_model_nobody_sees_not_a_500(tmp_path: Path) -> None:
    """A fine-tuned model's row with fields of the wrong type: chat with it and its GET are
    the 404s of a model that does not exist, the list skips it, the other model answers, and
    the damaged one can still be deleted."""
    _, jobs = two_finished_jobs(tmp_path)
    with in_process(make_settings(tmp_path)) as server, raw_http(server, API_KEY) as http:
        damaged, kept = (
            http.get(f"/fine_tuning/jobs/{j}").json()["fine_tuned_model"] for j in jobs
        )
    damage(tmp_path, "model", damaged, wrong_types(tmp_path, damaged))
    messages = [{"role": "user", "content": "hi"}]
    with in_process(make_settings(tmp_path)) as server, raw_http(server, API_KEY) as http:
        chat = http.post("/chat/completions", json={"model": damaged, "messages": messages})
        assert chat.status_code == 404, chat.text
        assert chat.json()["error"]["code"] == "model_not_found"
        assert http.get(f"/models/{damaged}").status_code == 404
        listed = [m["id"] for m in http.get("/models").json()["data"]]
        assert kept in listed and damaged not in listed
        again = http.post("/chat/completions", json={"model": kept, "messages": messages})
        assert again.status_code == 200, again.text
        assert http.delete(f"/models/{damaged}").status_code == 200


@pytest.mark.parametrize("body", ["{not json", "null", WRONG])
def test_an_unreadable_upload_row_is_the_404_of_an_upload_that_does_not_exist(
    tmp_path: Path, body: str
) -> None:
    """Not a 400 quoting whatever the row holds: parts, complete and cancel answer as for an
    unknown upload, and another upload of the organization goes on working."""
    fields = {"purpose": "fine-tune", "filename": "a.jsonl", "bytes": 3, "mime_type": "text/jsonl"}
    with in_process(make_settings(tmp_path)) as server, raw_http(server, API_KEY) as http:
        damaged, kept = (http.post("/uploads", json=fields).json()["id"] for _ in range(2))
    damage(tmp_path, "upload", damaged, wrong_types(tmp_path, damaged) if body == WRONG else body)
    with in_process(make_settings(tmp_path)) as server, raw_http(server, API_KEY) as http:
        missing = "upload_" + "x" * 24
        unknown = http.post(f"/uploads/{missing}/cancel").json()["error"]
        for action, kwargs in (
            ("parts", {"files": {"data": ("part", b"{}\n")}}),
            ("complete", {"json": {"part_ids": []}}),
            ("cancel", {}),
        ):
            answer = http.post(f"/uploads/{damaged}/{action}", **kwargs)  # type: ignore[arg-type]
            assert answer.status_code == 404, (action, answer.text)
            assert answer.json()["error"] == {
                **unknown,
                "message": unknown["message"].replace(missing, damaged),
            }
        part = http.post(f"/uploads/{kept}/parts", files={"data": ("part", b"{}\n")})
        assert part.status_code == 200, part.text
        done = http.post(f"/uploads/{kept}/complete", json={"part_ids": [part.json()["id"]]})
        assert done.json()["status"] == "completed", done.text


def every_page(http: Any, path: str, limit: int) -> list[tuple[list[str], bool]]:
    """Each page of a list walked with `after`: its ids and its `has_more`."""
    pages, after = [], None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"after": after} if after else {})}
        body = http.get(path, params=params).json()
        ids = [item["id"] for item in body["data"]]
        pages.append((ids, body["has_more"]))
        if not body["has_more"]:
            return pages
        after = ids[-1]


@pytest.mark.parametrize("body", ["{not json", WRONG])
def test_a_skipped_row_neither_shortens_its_page_nor_hides_has_more(
    tmp_path: Path, body: str
) -> None:
    """Five jobs and five files, the newest and the third of each damaged: pages of two
    are still full, and walking them gives every readable one once, with `has_more` false
    only on the last."""
    with in_process(make_settings(tmp_path)) as server, checked_sdk(server) as sdk:
        files = [upload(sdk) for _ in range(5)]
        jobs = [sdk.fine_tuning.jobs.create(model=SNAPSHOT, training_file=f).id for f in files]
    for kind, ids in (("job", jobs), ("file", files)):
        for obj_id in (ids[4], ids[2]):
            damage(tmp_path, kind, obj_id, wrong_types(tmp_path, obj_id) if body == WRONG else body)
    with in_process(make_settings(tmp_path)) as server, raw_http(server, API_KEY) as http:
        for path, ids in (("/fine_tuning/jobs", jobs), ("/files", files)):
            readable = [ids[3], ids[1], ids[0]]  # newest first
            assert every_page(http, path, 2) == [(readable[:2], True), (readable[2:], False)]
            assert every_page(http, path, 3) == [(readable, False)]
