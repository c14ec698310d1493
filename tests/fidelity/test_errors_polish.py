"""Errors: the polish branch's rows of docs/fidelity.md ("Errors, auth and headers"): a
model call's 429 names the model and quotes the limits its answers announce."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import Server
from tests.fidelity.conftest import capture

HELLO = [{"role": "user", "content": "Hello"}]


def quoted(key: str) -> dict[str, Any]:
    entry: dict[str, Any] = capture("issues/polish.json")["quotes"][key]
    return entry


def add_rule(server: Server, http: httpx.Client, **rule: Any) -> None:
    with server.http_client(family="httpx", headers=http.headers) as control:
        control.post("/mockft/chaos", json=rule).raise_for_status()


def test_a_rate_limited_model_call_names_the_model_and_its_limits(
    server: Server, http: httpx.Client
) -> None:
    real = quoted("rate_limit_model_requests")
    real_error = real["body"]["error"]
    # The capture is a free tier's (Limit 3) and ends with its billing sentence; the paid
    # tiers' captures end at "to learn more."
    message = real_error["message"].split(" You can increase")[0]
    template = re.escape(message)
    for literal, pattern in (
        ("org-OOhFjD3fpmItZTQAxWOQx11o", r"org-[A-Za-z0-9]+"),
        ("Limit 3, Used 3", r"Limit (\d+), Used \1"),
        ("try again in 20s", "try again in 20ms"),
    ):
        template = template.replace(re.escape(literal), pattern)

    answered = http.post("/chat/completions", json={"model": "gpt-4o-mini", "messages": HELLO})
    announced = int(answered.headers["x-ratelimit-limit-requests"])
    add_rule(server, http, path="/v1/chat/completions", status=429, times=1, retry_after_ms=20)
    refused = http.post(
        "/chat/completions", json={"model": "gpt-4o-mini-2024-07-18", "messages": HELLO}
    )
    assert refused.status_code == real["status"]
    error = refused.json()["error"]
    found = re.fullmatch(template, error["message"])
    assert found, error["message"]
    # The limit the 429 quotes is the one every answer of that model announces.
    assert int(found.group(1)) == announced
    assert refused.headers["x-ratelimit-limit-requests"] == str(announced)
    tokens = "x-ratelimit-limit-tokens"
    assert refused.headers[tokens] == answered.headers[tokens]
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"] == "20ms"
    assert (error["type"], error["param"], error["code"]) == (
        real_error["type"],
        real_error["param"],
        real_error["code"],
    )


def test_a_rate_limited_legacy_completion_names_its_model(
    server: Server, http: httpx.Client
) -> None:
    add_rule(server, http, path="/v1/completions", status=429, times=1)
    refused = http.post("/completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": "Hi"})
    # gpt-3.5-turbo-instruct's captured limit (ruby-openai, 2024-03-31): 3500 requests.
    assert refused.json()["error"]["message"].startswith(
        "Rate limit reached for gpt-3.5-turbo-instruct in organization org-"
    )
    assert "Limit 3500, Used 3500, Requested 1." in refused.json()["error"]["message"]
