"""Limits, the reliability branch's rows of docs/fidelity.md ("Errors, auth and headers"),
each asserted from its capture."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.conftest import Server, live_server, make_settings, raw_http
from tests.fidelity.conftest import quote


def test_a_body_over_the_limit_is_the_real_413(tmp_path: Path) -> None:
    """The capture: 25 MiB accepted, a body of 222,592,852 bytes refused. mockft with the
    same limit answers the same body the same way, from its declared length, before reading
    it."""
    real = quote("body_over_size_limit")
    limit, declared = 26_214_400, 222_592_852
    with live_server(make_settings(tmp_path, max_json_bytes=limit)) as server:
        head = (
            b"POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{" % declared
        )
        with socket.create_connection(("127.0.0.1", server.settings.port), timeout=10) as sock:
            sock.sendall(head)
            answer = b""
            while not answer.endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert int(status_line.split()[1]) == real["status"]
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"] == real["error"]


def test_a_trailing_slash_is_an_unknown_url(server: Server) -> None:
    """The real API answers an unknown URL with 404 `Invalid URL (METHOD path)`; a trailing
    slash makes one, and is never redirected."""
    real = quote("invalid_url")
    answer = raw_http(server).get(
        "/files/",
        headers={"Authorization": "Bearer k", "Host": "elsewhere.example"},
    )
    assert answer.status_code == real["status"]
    assert "location" not in answer.headers
    assert answer.json()["error"]["message"] == "Invalid URL (GET /v1/files/)"
