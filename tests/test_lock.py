"""One server per data dir: a second `mockft serve` (or `mockft reset`) on a data dir in
use exits non-zero naming the holder's pid, and touches nothing: not the first server's
upload in flight, not the stored clock."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from mockft.config import Settings
from mockft.service import Service
from mockft.store import DataDirLocked
from tests.conftest import START
from tests.serving import Served, run_cli, served


def test_a_second_server_on_a_data_dir_in_use_exits_naming_the_holder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with served(data, "--clock", "manual", "--start-time", str(START)) as first:
        with first.client() as client:
            client.post("/mockft/clock/advance", json={"seconds": 500})
        assert first.process is not None
        holder = first.process.pid

        # an upload in flight on the first server: its bytes are in blobs/.partial
        sock = socket.create_connection(("127.0.0.1", first.port))
        boundary = b"b0undary"
        head = (
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
            b"batch\r\n--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
            b'filename="big.jsonl"\r\n\r\n'
        )
        sock.sendall(
            b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
            b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\n"
            b"Content-Length: 100000000\r\n\r\n" + head + b"x" * 2_000_000
        )
        partial = data / "blobs" / ".partial"
        deadline = time.monotonic() + 10
        while not any(partial.iterdir()):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        in_flight = sorted(partial.iterdir())

        second = Served(data, "--clock", "manual", "--start-time", "1")
        second.start(wait=False)
        assert second.process is not None
        code = second.process.wait(timeout=30)
        assert code != 0
        output = second.output()
        assert f"pid {holder}" in output and str(data) in output

        assert sorted(partial.iterdir()) == in_flight  # the first server's upload is intact
        sock.close()
        assert first.now() == START + 500
        with first.client() as client:
            assert client.get("/v1/models").status_code == 200
    # the second server stored no clock of its own
    with served(data, "--clock", "manual") as again:
        assert again.now() == START + 500


def test_reset_of_a_data_dir_in_use_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with served(data) as server:
        with server.client() as client:
            made = client.post(
                "/v1/files", files={"file": ("a.jsonl", b'{"a": 1}\n')}, data={"purpose": "batch"}
            )
            assert made.status_code == 200
        refused = run_cli("reset", "--data-dir", str(data))
        assert refused.returncode != 0
        assert server.process is not None
        assert f"pid {server.process.pid}" in refused.stderr
        with server.client() as client:
            assert [f["id"] for f in client.get("/v1/files").json()["data"]] == [made.json()["id"]]
    done = run_cli("reset", "--data-dir", str(data))  # once the server is gone, it resets
    assert done.returncode == 0, done.stderr
    with served(data) as server, server.client() as client:
        assert client.get("/v1/files").json()["data"] == []


def test_the_lock_is_released_by_a_killed_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Served(data).start()
    server.kill9()
    server.start()  # no stale lock: the kernel dropped it with the process
    server.stop()


def test_in_process_services_on_one_data_dir_exclude_each_other(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", clock="manual", start_time=START)
    first = Service.open(settings)
    try:
        with pytest.raises(DataDirLocked):
            Service.open(settings)
    finally:
        first.close()
    Service.open(settings).close()  # free again
