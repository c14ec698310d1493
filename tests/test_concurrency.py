"""50 concurrent clients against one live server (SQLite on disk): each creates files and
jobs, reads them back, polls, deletes some, and walks the file and job lists page by page
while the others write and the clock moves. The bar: 0 errors (no 5xx, no "database is
locked", nothing unexpected), 0 lost or duplicated objects, and consistent pagination (a walk
never shows an object twice and never skips one that existed before it started)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mockft.pytest_plugin.live import unused_tls
from tests.conftest import API_KEY, FIXTURES, in_process, live_server, make_settings, raw_http

CLIENTS = 50
ROUNDS = 6 if os.environ.get("MOCKFT_STRESS") == "1" else 2  # rounds of work per client
PRE_EXISTING_FILES = 40
FILES_PER_ROUND = 1
PRE_EXISTING_JOBS = 6
TRAIN = (FIXTURES / "train_chat.jsonl").read_bytes()
# One shared TLS context (unused: the server is plain HTTP) spares the 52 clients that work
# parsing the CA bundle each (about a third of this test's CPU).
UNUSED_TLS = unused_tls()


def example(tag: str) -> bytes:
    """One more valid chat example, to make each file's content its own."""
    messages = [{"role": "user", "content": tag}, {"role": "assistant", "content": "ok"}]
    return json.dumps({"messages": messages}).encode() + b"\n"


@dataclass
class Ledger:
    """What the clients were told, and everything that went wrong."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # acknowledged, not deleted
    deleted: set[str] = field(default_factory=set)
    jobs: set[str] = field(default_factory=set)
    duplicate_ids: list[str] = field(default_factory=list)
    walks: int = 0

    def count(self, response: httpx.Response) -> None:
        with self.lock:
            self.requests += 1
        if response.status_code >= 500 or b"locked" in response.content:
            self.error(f"{response.request.method} {response.request.url.path}", response)

    def error(self, what: str, response: httpx.Response | None = None, detail: str = "") -> None:
        if response is not None:
            detail = f"{response.status_code} {response.text[:300]}"
        with self.lock:
            self.errors.append(f"{what}: {detail}")

    def new_file(self, file_id: str, data: bytes) -> None:
        with self.lock:
            if file_id in self.files or file_id in self.deleted:
                self.duplicate_ids.append(file_id)
            self.files[file_id] = data

    def new_job(self, job_id: str) -> None:
        with self.lock:
            if job_id in self.jobs:
                self.duplicate_ids.append(job_id)
            self.jobs.add(job_id)


def walk(
    client: httpx.Client, path: str, ledger: Ledger, limit: int, **params: Any
) -> list[str] | None:
    """All ids of a list, page by page with `after`; None if a page failed."""
    ids: list[str] = []
    after: str | None = None
    for _ in range(10_000):
        query: dict[str, Any] = {"limit": limit, **params}
        if after:
            query["after"] = after
        response = client.get(path, params=query)
        if response.status_code != 200:
            ledger.error(f"GET {path} page", response)
            return None
        body = response.json()
        ids += [item["id"] for item in body["data"]]
        if not body["has_more"]:
            return ids
        after = body["data"][-1]["id"]
    raise AssertionError("the walk never ended")


def check_walk(
    name: str, ids: list[str] | None, before: set[str], gone: Callable[[], set[str]], ledger: Ledger
) -> None:
    if ids is None:
        return
    with ledger.lock:
        ledger.walks += 1
    if len(ids) != len(set(ids)):
        seen: set[str] = set()
        twice = [i for i in ids if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
        ledger.error(f"{name} walk", detail=f"ids seen twice: {twice[:5]}")
    skipped = before - set(ids) - gone()
    if skipped:
        ledger.error(
            f"{name} walk", detail=f"skipped {len(skipped)} pre-existing: {sorted(skipped)[:5]}"
        )


def client_work(
    number: int,
    base_url: str,
    ledger: Ledger,
    pre_files: set[str],
    pre_jobs: set[str],
    start: threading.Barrier,
) -> None:
    def deleted() -> set[str]:
        with ledger.lock:
            return set(ledger.deleted)

    def on_response(response: httpx.Response) -> None:
        response.read()
        ledger.count(response)

    with httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        event_hooks={"response": [on_response]},
        timeout=120,
        verify=UNUSED_TLS,
    ) as client:
        start.wait()
        mine: list[str] = []
        for round_ in range(ROUNDS):
            # create files, each with content of its own; read them back
            for k in range(FILES_PER_ROUND):
                data = TRAIN + example(f"client {number} round {round_} file {k}")
                response = client.post(
                    "/files",
                    files={"file": (f"c{number}-{round_}-{k}.jsonl", data)},
                    data={"purpose": "fine-tune"},
                )
                if response.status_code != 200:
                    ledger.error("POST /files", response)
                    continue
                file_id = response.json()["id"]
                ledger.new_file(file_id, data)
                mine.append(file_id)
                if client.get(f"/files/{file_id}/content").content != data:
                    ledger.error("GET content", detail=f"{file_id} differs")
            if round_ % 2 == 0 and mine:  # a job every other round, polled
                create_and_poll_job(client, ledger, mine[0], number)
            # walk the lists while everyone writes
            desc = walk(client, "/files", ledger, 97)
            check_walk("files desc", desc, pre_files, deleted, ledger)
            asc = walk(client, "/files", ledger, 113, order="asc")
            check_walk("files asc", asc, pre_files, deleted, ledger)
            if round_ == ROUNDS - 1:  # job views cost more: one walk per client
                jobs = walk(client, "/fine_tuning/jobs", ledger, 100)
                check_walk("jobs", jobs, pre_jobs, set, ledger)
            # delete our newest file, unless it is the one our jobs train on
            if len(mine) > 1:
                victim = mine.pop()
                response = client.delete(f"/files/{victim}")
                if response.status_code != 200:
                    ledger.error("DELETE /files", response)
                    continue
                with ledger.lock:
                    ledger.deleted.add(victim)
                    ledger.files.pop(victim, None)
                if client.get(f"/files/{victim}").status_code != 404:
                    ledger.error("GET deleted file", detail=victim)


def create_and_poll_job(client: httpx.Client, ledger: Ledger, training: str, number: int) -> None:
    response = client.post(
        "/fine_tuning/jobs",
        json={"model": "gpt-4o-mini", "training_file": training, "suffix": f"c{number}"},
    )
    if response.status_code != 200:
        ledger.error("POST /fine_tuning/jobs", response)
        return
    job_id = response.json()["id"]
    ledger.new_job(job_id)
    polled = client.get(f"/fine_tuning/jobs/{job_id}")
    if polled.status_code != 200 or polled.json()["id"] != job_id:
        ledger.error("GET job", polled)
    events = client.get(f"/fine_tuning/jobs/{job_id}/events")
    if events.status_code != 200:
        ledger.error("GET events", events)


def test_fifty_concurrent_clients(tmp_path: Path) -> None:
    ledger = Ledger()
    with live_server(make_settings(tmp_path)) as server:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with httpx.Client(
            base_url=server.base_url, headers=headers, timeout=60, verify=UNUSED_TLS
        ) as setup:
            pre_files = set()
            for i in range(PRE_EXISTING_FILES):
                data = TRAIN + example(f"pre-existing {i}")
                file_id = setup.post(
                    "/files", files={"file": (f"pre{i}.jsonl", data)}, data={"purpose": "fine-tune"}
                ).json()["id"]
                pre_files.add(file_id)
                ledger.new_file(file_id, data)
            pre_jobs = set()
            for i in range(PRE_EXISTING_JOBS):
                job = setup.post(
                    "/fine_tuning/jobs",
                    json={"model": "gpt-4o-mini", "training_file": sorted(pre_files)[i]},
                ).json()
                pre_jobs.add(job["id"])
                ledger.new_job(job["id"])

        start = threading.Barrier(CLIENTS + 1)
        stop_clock = threading.Event()
        threads = [
            threading.Thread(
                target=client_work,
                args=(n, server.base_url, ledger, pre_files, pre_jobs, start),
            )
            for n in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()

        def tick() -> None:  # time moves while everyone works: jobs succeed under load
            while not stop_clock.wait(0.05):
                server.advance(30)

        clock = threading.Thread(target=tick)
        start.wait()
        clock.start()
        for thread in threads:
            thread.join(timeout=600)
            assert not thread.is_alive()
        stop_clock.set()
        clock.join()

        assert not ledger.errors, f"{len(ledger.errors)} errors:\n" + "\n".join(ledger.errors[:30])
        assert not ledger.duplicate_ids
        server.advance(24 * 3600)
        with httpx.Client(
            base_url=server.base_url, headers=headers, timeout=60, verify=UNUSED_TLS
        ) as final:
            listed = final.get("/files", params={"limit": 10_000, "purpose": "fine-tune"}).json()
            listed_ids = [f["id"] for f in listed["data"]]
            assert len(listed_ids) == len(set(listed_ids))
            assert set(listed_ids) == set(ledger.files), "lost or extra files"
            for file_id, data in list(ledger.files.items())[::7]:
                assert final.get(f"/files/{file_id}/content").content == data
            jobs = walk(final, "/fine_tuning/jobs", ledger, 100)
            assert jobs is not None and len(jobs) == len(set(jobs))
            assert set(jobs) == ledger.jobs, "lost or extra jobs"
            statuses = {final.get(f"/fine_tuning/jobs/{j}").json()["status"] for j in jobs}
            assert statuses == {"succeeded"}
            results = final.get("/files", params={"purpose": "fine-tune-results"}).json()["data"]
            assert len(results) == len(jobs)  # one result file per job, none twice
    assert ledger.walks >= CLIENTS * (ROUNDS * 2 + 1)
    assert ledger.requests >= CLIENTS * ROUNDS * 6
    assert not ledger.errors


def test_a_page_boundary_deleted_between_pages_does_not_end_the_walk(tmp_path: Path) -> None:
    """The deterministic core of what the walks above can hit: the client holds the last id
    of a page as its cursor, another client deletes that file, the next page is asked for.
    The walk must go on with the files older than the cursor, not stop as if at the end."""
    with (
        in_process(make_settings(tmp_path)) as server,
        raw_http(server, API_KEY, timeout=30) as client,
    ):
        ids = [
            client.post(
                "/files",
                files={"file": (f"f{i}.jsonl", TRAIN + example(str(i)))},
                data={"purpose": "fine-tune"},
            ).json()["id"]
            for i in range(5)
        ]
        for order, expected in (("desc", ids[::-1]), ("asc", ids)):
            first = client.get("/files", params={"limit": 2, "order": order}).json()
            assert [f["id"] for f in first["data"]] == expected[:2] and first["has_more"]
            cursor = first["data"][-1]["id"]
            assert client.delete(f"/files/{cursor}").status_code == 200
            rest = client.get("/files", params={"limit": 10, "order": order, "after": cursor})
            assert [f["id"] for f in rest.json()["data"]] == expected[2:]
            ids.remove(cursor)
