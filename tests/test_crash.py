"""Crash safety: `kill -9` a live `python -m mockft serve` in the middle of things, restart it
on the same data dir, and check that everything acknowledged is intact (byte for byte), that
nothing unacknowledged is left behind (no stray bytes under `data_dir/blobs`), and that jobs
continue their timeline and succeed.

Scenarios: during a streaming file upload; after a file's bytes are on disk but before the
server answered; between the parts of a multi-part Upload and in the middle of a part; while
jobs run (and while their results are being produced). Each runs a few times by default;
`MOCKFT_STRESS=1` runs each 20 times in a row (the default: twice).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FIXTURES, START
from tests.serving import PLAIN_HTTP, Served

RUNS = 20 if os.environ.get("MOCKFT_STRESS") == "1" else 2
CONTROL = {"Authorization": "Bearer k"}
BLOB_NAME = re.compile(r"^(file-[A-Za-z0-9]{22}|(part_|ftjob-)[A-Za-z0-9]{24})$")
LEARNED = "ftjob-"  # a job's blob: what its models learned (service/learning.py)
TRAIN_LINES = (FIXTURES / "train_chat.jsonl").read_bytes().splitlines(keepends=True)


class Mock(Served):
    """`python -m mockft serve` on a fixed port and data dir, started and killed at will."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, "--clock", "manual", "--start-time", str(START), "--seed", "3")

    def kill9(self) -> int:
        code = super().kill9()
        assert code == -signal.SIGKILL
        return code

    def restart(self) -> None:
        self.kill9()
        self.start()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=CONTROL, timeout=60, verify=PLAIN_HTTP)

    def advance(self, seconds: float) -> None:
        response = httpx.post(
            f"{self.root_url}/mockft/clock/advance",
            json={"seconds": seconds},
            headers=CONTROL,
            verify=PLAIN_HTTP,
        )
        assert response.status_code == 200, response.text

    def now(self) -> float:
        clock = httpx.get(f"{self.root_url}/mockft/clock", headers=CONTROL, verify=PLAIN_HTTP)
        return float(clock.json()["now"])

    # --- what is on disk ---

    @property
    def partial(self) -> Path:
        return self.data_dir / "blobs" / ".partial"

    def blobs(self) -> set[str]:
        """The bytes of Files and Parts (a job's own blob is left out)."""
        root = self.data_dir / "blobs"
        names = {p.name for p in root.iterdir() if p.name != ".partial"}
        assert all(BLOB_NAME.match(n) for n in names), names
        return {name for name in names if not name.startswith(LEARNED)}

    def wait_for(self, predicate: Any, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.002)


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[Mock]:
    with Mock(tmp_path / "data") as server:
        yield server


def jsonl(rng: random.Random, size: int) -> bytes:
    """Valid fine-tuning JSONL of about `size` bytes, different for every seed."""
    out = bytearray()
    while len(out) < size:
        line = rng.choice(TRAIN_LINES)
        record = json.loads(line)
        record["messages"][1]["content"] += f" #{rng.randrange(10**9)}"
        out += json.dumps(record).encode() + b"\n"
    return bytes(out)


def upload_file(client: httpx.Client, name: str, data: bytes) -> str:
    response = client.post("/files", files={"file": (name, data)}, data={"purpose": "fine-tune"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def listed_files(client: httpx.Client) -> dict[str, dict[str, Any]]:
    data = client.get("/files", params={"limit": 10000}).json()["data"]
    return {f["id"]: f for f in data}


def multipart_head(field: str, filename: str, boundary: str = "crashboundary") -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()


def start_streaming(mock: Mock, path: str, fields: bytes, declared: int) -> socket.socket:
    """Open a request whose body never finishes: headers and `fields`, of `declared` bytes."""
    conn = socket.create_connection(("127.0.0.1", mock.port))
    conn.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        "Content-Type: multipart/form-data; boundary=crashboundary\r\n"
        f"Content-Length: {declared}\r\n\r\n".encode()
        + fields
    )
    return conn


def assert_files_intact(client: httpx.Client, acknowledged: dict[str, bytes]) -> None:
    listed = listed_files(client)
    assert set(listed) == set(acknowledged)
    for file_id, data in acknowledged.items():
        assert listed[file_id]["bytes"] == len(data)
        assert client.get(f"/files/{file_id}/content").content == data


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_during_streaming_file_upload(mock: Mock, run: int) -> None:
    rng = random.Random(run)
    acknowledged: dict[str, bytes] = {}
    with mock.client() as client:
        for i in range(3):
            data = jsonl(rng, rng.randrange(1_000, 300_000))
            acknowledged[upload_file(client, f"ok{i}.jsonl", data)] = data
    purpose = (
        b'--crashboundary\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
    )
    streamed = jsonl(rng, 2_000_000)
    cut = rng.randrange(1, len(streamed))
    conn = start_streaming(
        mock, "/v1/files", purpose + multipart_head("file", "big.jsonl") + streamed[:cut], 10**8
    )
    try:
        # the server is writing the file: its partial blob is on disk
        mock.wait_for(lambda: any(mock.partial.iterdir()), "the partial blob")
        mock.restart()
    finally:
        conn.close()

    assert not any(mock.partial.iterdir())
    assert mock.blobs() == set(acknowledged)
    with mock.client() as client:
        assert_files_intact(client, acknowledged)
        later = upload_file(client, "later.jsonl", b'{"a": 1}\n')
        assert later not in acknowledged  # ids do not repeat after a crash
        assert client.get(f"/files/{later}/content").content == b'{"a": 1}\n'


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_after_the_bytes_are_stored_but_before_the_answer(mock: Mock, run: int) -> None:
    """The whole body is sent; the server has moved the bytes into place and is still checking
    the JSONL when it dies. The client never heard back, so either the File exists (complete)
    or nothing of it does: no bytes under blobs/ that no File owns."""
    rng = random.Random(100 + run)
    with mock.client() as client:
        kept = jsonl(rng, 10_000)
        acknowledged = {upload_file(client, "kept.jsonl", kept): kept}
    payload = jsonl(rng, 8_000_000)
    body = (
        b'--crashboundary\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
        + multipart_head("file", "huge.jsonl")
        + payload
        + b"\r\n--crashboundary--\r\n"
    )
    before = mock.blobs()
    conn = start_streaming(mock, "/v1/files", b"", len(body))
    try:
        conn.sendall(body)
        mock.wait_for(lambda: mock.blobs() - before, "the committed blob")
        mock.restart()
    finally:
        conn.close()

    with mock.client() as client:
        listed = listed_files(client)
        assert set(acknowledged) <= set(listed)
        unanswered = set(listed) - set(acknowledged)
        for file_id in unanswered:  # a File that exists is whole
            assert client.get(f"/files/{file_id}/content").content == payload
        assert client.get(f"/files/{next(iter(acknowledged))}/content").content == kept
        assert not any(mock.partial.iterdir())
        assert mock.blobs() == set(listed), "bytes on disk that no File owns"


def create_upload(client: httpx.Client, size: int) -> str:
    response = client.post(
        "/uploads",
        json={"filename": "parts.jsonl", "purpose": "fine-tune", "bytes": size, "mime_type": "x"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def add_part(client: httpx.Client, upload_id: str, data: bytes) -> str:
    response = client.post(f"/uploads/{upload_id}/parts", files={"data": ("blob", data)})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_during_multipart_upload(mock: Mock, run: int) -> None:
    rng = random.Random(200 + run)
    whole = jsonl(rng, rng.randrange(200_000, 600_000))
    bounds = sorted(rng.sample(range(1, len(whole)), 2))
    parts = [whole[: bounds[0]], whole[bounds[0] : bounds[1]], whole[bounds[1] :]]
    with mock.client() as client:
        upload_id = create_upload(client, len(whole))
        first = add_part(client, upload_id, parts[0])
    # between parts
    mock.restart()
    assert mock.blobs() == {first}
    # in the middle of the second part
    cut = rng.randrange(1, len(parts[1]))
    conn = start_streaming(
        mock,
        f"/v1/uploads/{upload_id}/parts",
        multipart_head("data", "blob") + parts[1][:cut],
        len(parts[1]) + 500,
    )
    try:
        mock.wait_for(lambda: any(mock.partial.iterdir()), "the partial part")
        mock.restart()
    finally:
        conn.close()
    assert not any(mock.partial.iterdir())
    assert mock.blobs() == {first}, "the unacknowledged part left bytes behind"

    with mock.client() as client:
        # the cut part does not count: the upload is still short of its bytes
        short = client.post(f"/uploads/{upload_id}/complete", json={"part_ids": [first]})
        assert short.status_code == 400
        second = add_part(client, upload_id, parts[1])
        third = add_part(client, upload_id, parts[2])
    mock.restart()  # between the last part and completion
    with mock.client() as client:
        done = client.post(
            f"/uploads/{upload_id}/complete",
            json={"part_ids": [first, second, third], "md5": hashlib.md5(whole).hexdigest()},
        )
        assert done.status_code == 200, done.text
        file_id = done.json()["file"]["id"]
    mock.restart()
    with mock.client() as client:
        assert_files_intact(client, {file_id: whole})
    assert mock.blobs() == {file_id}  # the parts are gone once assembled


def job_state(client: httpx.Client, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    job = client.get(f"/fine_tuning/jobs/{job_id}").json()
    events = client.get(f"/fine_tuning/jobs/{job_id}/events", params={"limit": 10000}).json()
    return job, list(reversed(events["data"]))  # oldest first


def run_jobs_to_the_end(mock: Mock, client: httpx.Client, job_ids: list[str]) -> None:
    for _ in range(500):
        statuses = {client.get(f"/fine_tuning/jobs/{j}").json()["status"] for j in job_ids}
        if statuses <= {"succeeded", "failed", "cancelled"}:
            assert statuses == {"succeeded"}, statuses
            return
        mock.advance(300)
    raise AssertionError("jobs never finished")


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_while_jobs_run(mock: Mock, run: int) -> None:
    rng = random.Random(300 + run)
    with mock.client() as client:
        training = upload_file(client, "train.jsonl", jsonl(rng, 6_000))
        job_ids = [
            client.post(
                "/fine_tuning/jobs",
                json={"model": "gpt-4o-mini", "training_file": training, "seed": rng.randrange(99)},
            ).json()["id"]
            for _ in range(4)
        ]
        mock.advance(rng.randrange(60, 400))  # some validating, queued or running
        before = {j: job_state(client, j) for j in job_ids}
        now = mock.now()
    mock.restart()
    assert mock.now() == now  # the clock is state, too
    with mock.client() as client:
        for job_id, (job, events) in before.items():
            assert job_state(client, job_id) == (job, events)  # exactly where it was
        # pause one while running, if one runs; it resumes after a crash
        running = [j for j in job_ids if before[j][0]["status"] == "running"]
        if running:
            assert client.post(f"/fine_tuning/jobs/{running[0]}/pause").status_code == 200
    mock.restart()
    with mock.client() as client:
        if running:
            assert client.get(f"/fine_tuning/jobs/{running[0]}").json()["status"] == "paused"
            assert client.post(f"/fine_tuning/jobs/{running[0]}/resume").status_code == 200
        mock.advance(30)
        middle = {j: job_state(client, j) for j in job_ids}
    mock.restart()
    with mock.client() as client:
        run_jobs_to_the_end(mock, client, job_ids)
        for job_id in job_ids:
            job, events = job_state(client, job_id)
            # the timeline continued: what was seen before the crash is still its beginning
            seen = middle[job_id][1]
            assert events[: len(seen)] == seen
            assert job["status"] == "succeeded" and len(job["result_files"]) == 1
        assert_results_whole(client, job_ids)


def assert_results_whole(client: httpx.Client, job_ids: list[str]) -> None:
    """One result file and one set of models per succeeded job, nothing twice."""
    results = client.get("/files", params={"purpose": "fine-tune-results"}).json()["data"]
    assert sorted(f["id"] for f in results) == sorted(
        client.get(f"/fine_tuning/jobs/{j}").json()["result_files"][0] for j in job_ids
    )
    for result in results:
        csv = base64.b64decode(client.get(f"/files/{result['id']}/content").content)
        assert csv.startswith(b"step,train_loss")
    models = [m["id"] for m in client.get("/models").json()["data"] if m["id"].startswith("ft:")]
    # the model and its two earlier checkpoints (the last checkpoint is the model itself)
    assert len(models) == len(set(models)) == 3 * len(job_ids)


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_while_results_are_produced(mock: Mock, run: int) -> None:
    """Many jobs finish at the same instant; the first look at them produces their result
    files and models, and the server dies somewhere in the middle of that."""
    rng = random.Random(400 + run)
    with mock.client() as client:
        training = upload_file(client, "train.jsonl", jsonl(rng, 4_000))
        job_ids = [
            client.post(
                "/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": training}
            ).json()["id"]
            for _ in range(12)
        ]
    mock.advance(24 * 3600)  # all are done, none has been looked at since

    def look() -> None:
        try:
            with mock.client() as client:
                client.get("/fine_tuning/jobs", params={"limit": 100})
        except httpx.TransportError:
            pass  # killed under it

    looker = threading.Thread(target=look)
    looker.start()
    mock.wait_for(lambda: len(mock.blobs()) > 1 + run % 6, "the first result files")
    mock.restart()
    looker.join()
    with mock.client() as client:
        run_jobs_to_the_end(mock, client, job_ids)
        assert_results_whole(client, job_ids)
        assert mock.blobs() == set(listed_files(client)), "bytes on disk that no File owns"
