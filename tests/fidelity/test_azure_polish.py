"""Azure: the polish branch's rows of docs/fidelity.md ("Azure"): a deployment called for an
operation its model does not serve, the `model` an answer names, and the JSON size limit on
deployment calls."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import live_server, make_settings
from tests.fidelity.conftest import capture
from tests.test_azure import Azure, serve

HELLO = {"messages": [{"role": "user", "content": "hello"}]}
SMALL_LIMIT = 1024 * 1024


def quoted(key: str) -> dict[str, Any]:
    entry: dict[str, Any] = capture("issues/polish.json")["quotes"][key]
    return entry


@pytest.fixture
def azure() -> Iterator[Azure]:
    with serve() as client:
        yield client


def test_chat_through_a_deployment_of_a_model_that_does_not_chat(azure: Azure) -> None:
    """microsoft/graphrag#1557 (the body) and langchain-ai/langchain-azure#228 (2025-12-09):
    400 OperationNotSupported, naming the deployment's model."""
    real = quoted("azure_chat_on_a_model_that_does_not_chat")
    assert azure.deploy("embed", "text-embedding-3-large").status_code == 201
    for path, body in (
        ("/openai/deployments/embed/chat/completions", HELLO),
        ("/openai/v1/chat/completions", {**HELLO, "model": "embed"}),
    ):
        refused = azure.post(path, json=body)
        assert refused.status_code == real["status"], path
        assert refused.json() == real["body"], path


def test_completions_through_a_deployment_of_a_chat_model(azure: Azure) -> None:
    """Azure-Samples/azure-search-openai-demo-csharp#158 (2023-09-13), crewAI#109
    (2024-01-11): the converse, `completion` on a chat model."""
    real = quoted("azure_completion_on_a_chat_model")
    expected = real["body"]["error"]["message"].replace("gpt-35-turbo", "gpt-4o-mini")
    assert azure.deploy("chat", "gpt-4o-mini").status_code == 201
    refused = azure.post("/openai/deployments/chat/completions", json={"prompt": "hi"})
    assert refused.status_code == real["status"]
    assert refused.json() == {"error": {"code": "OperationNotSupported", "message": expected}}
    # A deployment of a fine-tuned chat model is a chat model too.
    model = azure.tuned_model()
    assert azure.deploy("mine", model).status_code == 201
    mine = azure.post("/openai/deployments/mine/completions", json={"prompt": "hi"})
    assert mine.json()["error"]["message"].startswith(
        f"The completion operation does not work with the specified model, {model}."
    )
    assert azure.post("/openai/deployments/mine/chat/completions", json=HELLO).status_code == 200


def test_a_deployment_of_an_alias_answers_with_the_snapshot(azure: Azure) -> None:
    """Azure's answers name the model's dated version since 2025 (gpt-4o-2024-08-06,
    gpt-4o-mini-2024-07-18, gpt-4.1-2025-04-14, gpt-5.4-2026-03-05), as OpenAI's do."""
    newest = quoted("azure_chat_answer_model")["answers"]
    assert all(re.fullmatch(r".+-\d{4}-\d{2}-\d{2}", a["model"]) for a in newest[1:])
    assert azure.deploy("chat", "gpt-4o-mini").status_code == 201
    openai = azure.openai("POST", "/v1/chat/completions", json={**HELLO, "model": "gpt-4o-mini"})
    for path, body in (
        ("/openai/deployments/chat/chat/completions", HELLO),
        ("/openai/v1/chat/completions", {**HELLO, "model": "chat"}),
    ):
        answer = azure.post(path, json=body)
        assert answer.json()["model"] == openai.json()["model"] == "gpt-4o-mini-2024-07-18"
        assert answer.headers["openai-model"] == "gpt-4o-mini-2024-07-18"


@pytest.mark.parametrize(
    "path",
    [
        "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
        "/openai/v1/chat/completions",
    ],
)
def test_a_deployment_call_is_cut_off_at_the_json_limit(tmp_path: Path, path: str) -> None:
    """The 413 of the `/v1` endpoints (chidiwilliams/buzz#381, 2023-03-21), counted as the
    body streams in: no more than a chunk past the limit is ever read."""

    def chunks() -> Iterator[bytes]:
        yield b'{"model": "gpt-4o-mini", "pad": "'
        for _ in range(64):  # 4 MB, four times the limit, with no length announced
            yield b"x" * 65536
        yield b'"}'

    settings = make_settings(tmp_path, max_json_bytes=SMALL_LIMIT, azure_auto_deploy=True)
    with live_server(settings) as server:
        http = server.http_client(family="httpx", headers={}, timeout=30)  # no bearer key
        refused = http.post(
            path, content=chunks(), headers={"api-key": "k", "content-type": "application/json"}
        )
        assert refused.status_code == 413
        message = refused.json()["error"]["message"]
        assert message.startswith(f"Maximum content size limit ({SMALL_LIMIT}) exceeded (")
        read = int(message.rsplit("(", 1)[1].split(" ")[0])
        assert SMALL_LIMIT < read <= SMALL_LIMIT + 4 * 65536
