"""Projects, admin keys, checkpoint permissions and webhooks: the platform branch's rows of
docs/fidelity.md, each asserted from its capture (`tests/data/captures/issues/platform.json`)
or from the official SDK's own code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from mockft.pytest_plugin import MockFT
from mockft.service.webhooks import RETRY_DELAYS
from tests.conftest import FIXTURES, LiveServer, live_server, make_settings
from tests.fidelity.conftest import capture
from tests.openapi_contract import raw_spec

PROJECT_KEY = "sk-fidelity-proj-0123456789"
USER_KEY = "sk-fidelity-user-0123456789"
ADMIN_KEY = "sk-fidelity-admin-0123456789"


def quote(key: str) -> dict[str, Any]:
    entry: dict[str, Any] = capture("issues/platform.json")["quotes"][key]
    return entry


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path,
        api_keys=(f"{PROJECT_KEY}=acme/proj_a", f"{USER_KEY}=acme"),
        admin_keys=(f"{ADMIN_KEY}=acme",),
    )
    with live_server(settings) as live:
        yield live


def get(server: LiveServer, path: str, key: str, **headers: str) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}{path}", headers={"Authorization": f"Bearer {key}", **headers}
    )


def test_a_project_header_the_key_cannot_use_is_401_mismatched_project(keyed: LiveServer) -> None:
    real = quote("mismatched_project")
    for key in (PROJECT_KEY, USER_KEY):
        answer = get(keyed, "/models", key, **{"OpenAI-Project": "proj_elsewhere"})
        assert answer.status_code == real["status"]
        assert answer.json()["error"] == {**real["error"], "param": None}


def test_a_key_that_is_not_an_admin_key_lacks_the_checkpoint_scope(keyed: LiveServer) -> None:
    real = quote("non_admin_key_on_checkpoint_permissions")
    full = quote("missing_scopes_full_message")["message"]
    hint = full.split("Missing scopes: model.request. ", 1)[1]
    answer = httpx.post(
        f"{keyed.base_url}/fine_tuning/checkpoints/ft:gpt-4o-mini-2024-07-18:acme::x/permissions",
        headers={"Authorization": f"Bearer {PROJECT_KEY}"},
        json={"project_ids": ["proj_b"]},
    )
    assert answer.status_code == real["status"]
    error = answer.json()["error"]
    assert error["message"] == real["message_start"] + " " + hint
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)


def test_an_admin_key_lacks_the_scopes_of_models_and_chat(keyed: LiveServer) -> None:
    full = quote("missing_scopes_full_message")["message"]
    scopes = quote("admin_key_on_models_and_chat")["text"].split("missing scopes: ")[1]
    models_scope, chat_scope = scopes.rstrip(")").split(", ")
    listing = get(keyed, "/models", ADMIN_KEY)
    assert listing.status_code == 401
    assert listing.json()["error"]["message"] == full.replace("model.request", models_scope)
    calling = httpx.post(
        f"{keyed.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert calling.status_code == 401
    assert calling.json()["error"]["message"] == full.replace("model.request", chat_scope)


def test_retries_follow_the_standard_webhooks_schedule_for_72_hours() -> None:
    real = quote("standard_webhooks_schedule")["schedule_seconds"]
    after_first = real[1:]
    assert list(RETRY_DELAYS[: len(after_first)]) == after_first
    assert all(delay == after_first[-1] for delay in RETRY_DELAYS[len(after_first) :])
    assert "up to 72 hours" in quote("webhook_retries")["text"]
    assert sum(RETRY_DELAYS) <= 72 * 3600 < sum(RETRY_DELAYS) + RETRY_DELAYS[-1]


@cache
def spec_example(schema: str) -> dict[str, Any]:
    example: dict[str, Any] = json.loads(
        raw_spec()["components"]["schemas"][schema]["x-oaiMeta"]["example"]
    )
    return example


def test_the_event_is_the_spec_s_event_with_the_real_headers() -> None:
    handle = MockFT()
    try:
        hook = handle.webhooks
        client = handle.openai()
        file = client.files.create(
            file=("t.jsonl", (FIXTURES / "train_chat.jsonl").read_bytes()), purpose="fine-tune"
        )
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file.id)
        handle.run_until_done(job.id)
        (received,) = hook.received
    finally:
        handle.close()
    example = spec_example("WebhookFineTuningJobSucceeded")
    assert set(example) | {"object"} == set(received.event)
    assert set(example["data"]) == set(received.event["data"])
    assert set(quote("webhook_retries")["headers"]) <= set(received.headers)
    # The official SDK's own check, as openai-python's `webhooks.verify_signature` does it.
    with openai.OpenAI(api_key="unused", webhook_secret=hook.secret) as sdk:
        sdk.webhooks.verify_signature(received.body, received.headers)
