"""Nothing acknowledged is lost across a restart or a kill -9 of `mockft serve`."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import openai

from mockft.pytest_plugin.live import free_port
from tests.conftest import NO_PRELOAD
from tests.serving import ForkedServeProcess
from tests.zygote import ZygoteProcess


@contextmanager
def serve(data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes] | ZygoteProcess]:
    flags = ("--data-dir", str(data_dir), "--clock", "manual", "--log-level", "warning")
    with ForkedServeProcess(*flags, port=port, env=NO_PRELOAD) as server:
        assert server.process is not None
        yield server.process


def sdk(port: int) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-x", max_retries=0)


def test_files_survive_graceful_restart_and_kill_9(tmp_path: Path) -> None:
    port = free_port()
    payloads = {f"f{i}.jsonl": (b'{"n": %d}\n' % i) * (1000 * (i + 1)) for i in range(4)}
    with serve(tmp_path, port), ExitStack() as stack:
        client = stack.enter_context(sdk(port))
        ids = {
            name: client.files.create(file=(name, io.BytesIO(data)), purpose="fine-tune").id
            for name, data in payloads.items()
        }
        before = httpx.get(
            f"http://127.0.0.1:{port}/mockft/clock", headers={"Authorization": "Bearer k"}
        ).json()["now"]

    with serve(tmp_path, port) as process, ExitStack() as stack:
        client = stack.enter_context(sdk(port))
        for name, file_id in ids.items():
            assert client.files.content(file_id).content == payloads[name]
        late = client.files.create(file=("late.jsonl", io.BytesIO(b"{}\n")), purpose="fine-tune")
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    with serve(tmp_path, port), ExitStack() as stack:
        client = stack.enter_context(sdk(port))
        listed = {f.id for f in client.files.list()}
        assert listed == set(ids.values()) | {late.id}
        for name, file_id in ids.items():
            assert client.files.content(file_id).content == payloads[name]
        assert client.files.content(late.id).content == b"{}\n"
        now = httpx.get(
            f"http://127.0.0.1:{port}/mockft/clock", headers={"Authorization": "Bearer k"}
        ).json()["now"]
        assert now == before  # the manual clock is part of the state


def test_partial_upload_cut_by_kill_9_leaves_nothing(tmp_path: Path) -> None:
    port = free_port()
    with serve(tmp_path, port) as process:
        boundary = "mockftboundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.jsonl"\r\n\r\n'
        ).encode()

        import socket

        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(
                b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                + f"Content-Type: multipart/form-data; boundary={boundary}\r\n".encode()
                + b"Content-Length: 100000000\r\n\r\n"
                + head
                + b'{"a": 1}\n' * 20000
            )
            partial = tmp_path / "blobs" / ".partial"
            deadline = time.monotonic() + 10
            while not (partial.is_dir() and any(partial.iterdir())):  # the upload is on disk
                assert time.monotonic() < deadline, "no partial upload"
                time.sleep(0.005)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    with serve(tmp_path, port):
        with sdk(port) as client:
            assert client.files.list().data == []
        leftovers = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
        assert leftovers == []
