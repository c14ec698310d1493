"""HTTP-level abuse against a real socket: bodies that end early (shorter than their
Content-Length, or chunked and cut off), then the client half-closes or leaves. Nothing is
answered to a client that is gone, but the request log must not call it a server error, and
the server goes on answering everyone else."""

from __future__ import annotations

import socket
import time

import pytest

from tests.conftest import API_KEY, Server, raw_http

AUTH = f"Authorization: Bearer {API_KEY}\r\n"
CUT_SHORT = {
    "json shorter than Content-Length": (
        "POST /v1/fine_tuning/jobs HTTP/1.1\r\nHost: x\r\n"
        f"{AUTH}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        '{"model":'
    ),
    "multipart shorter than Content-Length": (
        "POST /v1/files HTTP/1.1\r\nHost: x\r\n"
        f"{AUTH}Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000\r\n\r\n"
        '--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
    ),
    "chunked multipart ending early": (
        "POST /v1/files HTTP/1.1\r\nHost: x\r\n"
        f"{AUTH}Content-Type: multipart/form-data; boundary=b\r\n"
        "Transfer-Encoding: chunked\r\n\r\n10\r\n--b\r\nContent-Dis"
    ),
}


def send_and_leave(server: Server, request: str) -> bytes:
    host, port = server.root_url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        sock.shutdown(socket.SHUT_WR)  # half-closed: the rest of the body never comes
        return sock.recv(65536)


@pytest.mark.live
@pytest.mark.parametrize("request_text", CUT_SHORT.values(), ids=CUT_SHORT.keys())
def test_a_body_cut_short_is_not_logged_as_a_server_error(
    server: Server, request_text: str
) -> None:
    assert send_and_leave(server, request_text) == b""  # no one left to answer
    path = request_text.split()[1]
    with raw_http(server, API_KEY, base_url=server.root_url) as http:
        deadline = time.monotonic() + 10
        while True:  # the server notices the disconnect on its own time
            logged = [e for e in http.get("/mockft/requests").json()["data"] if e["path"] == path]
            if logged and logged[-1]["status"] is not None or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert [e["status"] for e in logged] == [499]
        assert http.get("/v1/models").status_code == 200
        assert http.get("/v1/files").json()["data"] == []  # nothing half-stored
