"""Errors, auth and headers: the sweep's rows of docs/fidelity.md ("Errors, auth and
headers"), each asserted from its capture."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, in_process, make_settings, raw_http
from tests.fidelity.conftest import quote, response_of

KEY = "sk-fidelity-0123456789"


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[Server]:
    """A server that accepts one configured key (in organization `acme`)."""
    with in_process(make_settings(tmp_path, api_keys=(f"{KEY}=acme",))) as app:
        yield app


def test_no_key_is_401_with_the_real_wording(server: Server) -> None:
    real = quote("auth_missing_key")
    response = raw_http(server).get("/models")
    assert response.status_code == real["status"]
    assert response.json()["error"] == {
        "message": real["message"],
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def masked_key(message: str) -> str:
    return message.removeprefix("Incorrect API key provided: ").split(". You can find")[0]


@pytest.mark.parametrize(
    "case", ["auth_incorrect_key", "auth_incorrect_project_key", "auth_incorrect_short_key"]
)
def test_a_wrong_key_is_echoed_masked(keyed: Server, case: str) -> None:
    real = quote(case)
    message = real.get("error", {}).get("message") or real["message"]
    shown = masked_key(message)
    # A key of the same length, first eight and last four characters as the one masked.
    key = shown if "*" not in shown else shown[:8] + "x" * shown.count("*") + shown[-4:]
    response = raw_http(keyed).get("/models", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == real["status"]
    error = response.json()["error"]
    assert error["message"] == message
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        None,
        "invalid_api_key",
    )


def test_an_organization_header_of_another_org_is_401(keyed: Server) -> None:
    real = quote("auth_mismatched_organization")
    headers = {"Authorization": f"Bearer {KEY}", "OpenAI-Organization": "org-someoneelse"}
    response = raw_http(keyed).get("/models", headers=headers)
    assert response.status_code == real["status"]
    assert response.json()["error"] == real["error"]


def test_the_key_own_organization_header_is_accepted(keyed: Server) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    created = (
        raw_http(keyed)
        .post(
            "/files",
            headers=auth,
            files={"file": ("a.pdf", b"%PDF")},
            data={"purpose": "assistants"},
        )
        .json()
    )
    own = keyed.service.keys.authenticate(f"Bearer {KEY}").id
    response = raw_http(keyed).get(
        f"/files/{created['id']}", headers={**auth, "OpenAI-Organization": own}
    )
    assert response.status_code == 200


def test_an_unknown_url_is_invalid_url(http: httpx.Client) -> None:
    real = quote("invalid_url")
    path = real["error"]["message"].removeprefix("Invalid URL (POST ").removesuffix(")")
    response = http.post(path.removeprefix("/v1"), json={})
    assert response.status_code == real["status"]
    assert response.json()["error"] == real["error"]


@pytest.mark.parametrize("cassette", ["models_retrieve", "models_delete"])
def test_answers_carry_the_openai_headers(http: httpx.Client, cassette: str) -> None:
    # models_retrieve (2024-04-27) is a success, models_delete (2025-03-14) a 404.
    real = response_of(cassette)
    response = http.request(
        "GET" if cassette == "models_retrieve" else "DELETE",
        f"/models/{'gpt-3.5-turbo-instruct' if cassette == 'models_retrieve' else 'ft:123'}",
    )
    assert response.status_code == real["status"]
    headers = real["headers"]
    assert re.fullmatch(r"req_[0-9a-f]{32}", headers["X-Request-Id"])
    assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])
    assert response.headers["openai-version"] == headers["Openai-Version"]
    assert re.fullmatch(r"\d+", headers["Openai-Processing-Ms"])
    assert re.fullmatch(r"\d+", response.headers["openai-processing-ms"])
    assert response.headers["content-type"] == headers["Content-Type"]


def test_the_organization_header_names_the_caller(keyed: Server) -> None:
    # The real header carries the organization's name (a slug such as "user-jxm65…").
    assert response_of("models_delete")["headers"]["Openai-Organization"].startswith("user-")
    response = raw_http(keyed).get("/models", headers={"Authorization": f"Bearer {KEY}"})
    assert response.headers["openai-organization"] == "acme"


def test_a_rate_limited_request(server: Server, http: httpx.Client) -> None:
    real = quote("rate_limit_requests")
    rule = {"path": "/v1/models", "status": 429, "times": 1, "retry_after_ms": 20}
    raw_http(server, base_url=server.root_url).post(
        "/mockft/chaos", json=rule, headers=http.headers
    ).raise_for_status()
    response = http.get("/models")
    assert response.status_code == real["status"]
    template = re.escape(real["message"]).replace(re.escape("org-<>"), r"org-[A-Za-z0-9]+")
    template = template.replace(re.escape("Limit 3000, Used 3000"), r"Limit (\d+), Used \1")
    assert re.fullmatch(template, response.json()["error"]["message"])
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
