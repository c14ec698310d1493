"""Headers, auth and the error envelope on every path."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, Server, in_process, make_settings, raw_http


def test_every_response_carries_the_openai_headers(http: httpx.Client) -> None:
    for response in (http.get("/files"), http.get("/files/file-nope"), http.get("/nowhere")):
        assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])
        assert response.headers["openai-version"] == "2020-10-01"
        assert response.headers["openai-organization"] == "mockft"
        assert int(response.headers["openai-processing-ms"]) >= 0


def test_missing_key_is_401_with_the_real_message(server: Server) -> None:
    response = raw_http(server).get("/files")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["message"].startswith("You didn't provide an API key.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)


def test_unknown_routes_and_methods_are_invalid_url(http: httpx.Client) -> None:
    assert http.get("/nowhere").json()["error"]["message"] == "Invalid URL (GET /v1/nowhere)"
    response = http.put("/files")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (PUT /v1/files)"


def test_configured_keys_reject_others_and_separate_orgs(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_keys=("sk-alice=acme", "sk-bob=globex"))
    with in_process(settings) as app:
        alice = raw_http(app, "sk-alice")
        bob = raw_http(app, "sk-bob")
        with alice, bob:
            _check_isolation(raw_http(app), alice, bob)


def _check_isolation(anyone: httpx.Client, alice: httpx.Client, bob: httpx.Client) -> None:
    wrong = anyone.get("/files", headers={"Authorization": "Bearer sk-eve1234567890"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert "sk-eve1234567890" not in wrong.json()["error"]["message"]

    created = alice.post("/files", files={"file": ("a.txt", b"x")}, data={"purpose": "assistants"})
    file_id = created.json()["id"]
    assert created.headers["openai-organization"] == "acme"
    assert bob.get(f"/files/{file_id}").status_code == 404
    assert bob.get(f"/files/{file_id}/content").status_code == 404
    assert bob.delete(f"/files/{file_id}").status_code == 404
    assert bob.get("/files").json()["data"] == []
    assert alice.get(f"/files/{file_id}").status_code == 200


def test_control_api_is_guarded_but_health_is_open(server: Server) -> None:
    raw = raw_http(server)
    assert raw.get(f"{server.root_url}/mockft/health").status_code == 200
    assert raw.post(f"{server.root_url}/mockft/reset").status_code == 401
    auth = {"Authorization": f"Bearer {API_KEY}"}
    clock = raw.get(f"{server.root_url}/mockft/clock", headers=auth).json()
    assert clock["mode"] == "manual"
    moved = raw.post(
        f"{server.root_url}/mockft/clock/advance", json={"seconds": 90}, headers=auth
    ).json()
    assert moved["now"] == clock["now"] + 90


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/uploads", {"content": b"{not json"}),
        ("POST", "/uploads", {"content": b"[1, 2]"}),
        ("POST", "/uploads", {"json": {"filename": 3}}),
        (
            "POST",
            "/uploads",
            {
                "json": {
                    "filename": "a.jsonl",
                    "purpose": "fine-tune",
                    "bytes": "12",
                    "mime_type": "text/jsonl",
                }
            },
        ),
        (
            "POST",
            "/files",
            {
                "content": b"--x\r\nbroken",
                "headers": {"content-type": "multipart/form-data; boundary=x"},
            },
        ),
        ("POST", "/files", {"content": b"plain", "headers": {"content-type": "text/plain"}}),
        ("POST", "/files", {"content": b"x", "headers": {"content-type": "multipart/form-data"}}),
        ("GET", "/files", {"params": {"limit": "-5"}}),
        ("GET", "/files", {"params": {"after": "../../etc/passwd"}}),
        ("GET", "/files/..%2F..%2Fetc%2Fpasswd/content", {}),
        ("POST", "/mockft-not-here", {}),
    ],
)
def test_bad_input_never_gets_a_500(
    http: httpx.Client, method: str, path: str, kwargs: dict[str, object]
) -> None:
    response = http.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code < 500
    body = response.json()
    if response.status_code >= 400:
        assert set(body) == {"error"}
    else:  # a bogus cursor is simply a place past the end
        assert body["data"] == [] and body["has_more"] is False
