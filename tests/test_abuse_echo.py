"""A model name of any length is answered with a short message: the 404 of chat and of a
model, and the 400 of a job on it, quote a name of ordinary length whole and a longer one as
an excerpt (a 100,000-character name came back whole in chat's 404)."""

from __future__ import annotations

import httpx
import pytest

from mockft import errors
from tests.conftest import API_KEY, Server, raw_http

LONG = "ft:gpt-4o-mini-2024-07-18:" + "x" * 100_000
ORDINARY = "ft:gpt-4o-mini-2024-07-18:acme-research-lab:customer-support-v2:AbCd1234"


@pytest.fixture
def http(server: Server) -> httpx.Client:
    return raw_http(server, API_KEY)


def _answers(http: httpx.Client, model: str) -> list[httpx.Response]:
    messages = [{"role": "user", "content": "hi"}]
    return [
        http.post("/chat/completions", json={"model": model, "messages": messages}),
        http.get(f"/models/{model[:10_000]}"),  # (a URL has a length limit of its own)
        http.post("/fine_tuning/jobs", json={"model": model, "training_file": "file-none"}),
    ]


def test_a_long_model_name_is_quoted_as_an_excerpt(http: httpx.Client) -> None:
    for answer in _answers(http, LONG):
        assert 400 <= answer.status_code < 500, answer.status_code
        message = answer.json()["error"]["message"]
        assert len(message) < 500
    chat = _answers(http, LONG)[0].json()["error"]["message"]
    assert errors.excerpt(LONG, errors.MODEL_NAME_CHARS) in chat


def test_a_model_name_of_ordinary_length_is_quoted_whole(http: httpx.Client) -> None:
    chat, model, _ = _answers(http, ORDINARY)
    assert f"`{ORDINARY}`" in chat.json()["error"]["message"]
    assert f"'{ORDINARY}'" in model.json()["error"]["message"]
