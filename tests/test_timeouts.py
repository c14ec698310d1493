"""Nothing a stalled client holds is held forever: a body that stops arriving is answered
408 and what it had written is deleted; a connection whose request headers never finish
is closed."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, live_server, make_settings

# Short, so that the stalls below end soon; the trickle and the header drip pace themselves
# by it (a fifth of it apart), so none of them relies on a fixed second.
TIMEOUT = 0.3
PACE = TIMEOUT / 5


@pytest.fixture(params=["httptools", "h11"])
def impatient(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server with short timeouts, on each of uvicorn's HTTP protocols (mockft's deadline
    for headers extends either)."""
    settings = make_settings(
        tmp_path, body_timeout=TIMEOUT, headers_timeout=TIMEOUT, http=request.param
    )
    with live_server(settings) as server:
        yield server


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.settings.port))
    sock.settimeout(10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def partial_dir(server: Server) -> Path:
    return server.settings.data_dir / "blobs" / ".partial"


def test_a_stalled_upload_times_out_and_leaves_nothing(impatient: Server) -> None:
    sock = connect(impatient)
    boundary = b"xyz"
    sock.sendall(
        b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\n"
        b"Content-Length: 10000000\r\n\r\n"
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        + b"x" * 100_000
    )
    deadline = time.monotonic() + 5
    while not any(partial_dir(impatient).iterdir()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    started = time.monotonic()
    answer = read_all(sock)  # then nothing more is sent
    sock.close()
    assert time.monotonic() - started < TIMEOUT + 3
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"no part of the request body arrived" in answer
    assert list(partial_dir(impatient).iterdir()) == []
    with httpx.Client(base_url=impatient.base_url, headers={"Authorization": "Bearer k"}) as http:
        assert http.get("/files").json()["data"] == []


def test_a_stalled_chunked_json_body_times_out(impatient: Server) -> None:
    sock = connect(impatient)
    sock.sendall(
        b"POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"fil\r\n'
    )
    started = time.monotonic()
    answer = read_all(sock)
    sock.close()
    assert time.monotonic() - started < TIMEOUT + 3
    assert answer.startswith(b"HTTP/1.1 408")


def test_headers_that_never_finish_lose_the_connection(impatient: Server) -> None:
    sock = connect(impatient)
    started = time.monotonic()
    sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n")
    closed = False
    deadline = started + TIMEOUT + 2
    while time.monotonic() < deadline:  # a header byte every PACE does not keep the connection
        try:
            sock.sendall(b"X")
        except OSError:
            closed = True
            break
        time.sleep(PACE)
        try:
            sock.settimeout(0.001)
            if sock.recv(1) == b"":
                closed = True
                break
        except (TimeoutError, BlockingIOError):
            pass
        except OSError:
            closed = True
            break
    sock.close()
    assert closed
    assert time.monotonic() - started < TIMEOUT + 2


def test_a_quiet_connection_between_requests_is_closed(impatient: Server) -> None:
    sock = connect(impatient)
    sock.sendall(b"GET /mockft/health HTTP/1.1\r\nHost: x\r\n\r\n")
    started = time.monotonic()
    answer = read_all(sock)  # the answer, then the close
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200")
    assert time.monotonic() - started < TIMEOUT + 3


def test_a_slow_but_steady_upload_is_not_cut_off(impatient: Server) -> None:
    def trickle() -> Iterator[bytes]:
        yield (
            b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        )
        for _ in range(8):  # 1.6 timeouts in all, never idle for one
            time.sleep(PACE)
            yield b"x" * 1000
        yield b"\r\n--b--\r\n"

    with httpx.Client(base_url=impatient.base_url, headers={"Authorization": "Bearer k"}) as http:
        made = http.post(
            "/files",
            content=trickle(),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert made.status_code == 200, made.text
        assert made.json()["bytes"] == 8000
