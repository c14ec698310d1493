"""Chat and completions: the sweep's rows of docs/fidelity.md ("Chat and completions"), each
asserted from its capture."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import Server
from tests.fidelity.conftest import capture, create_job, finish, quote

HELLO = [{"role": "user", "content": "Hello!"}]


def recorded(cassette: str) -> dict[str, Any]:
    interaction: dict[str, Any] = capture(f"ruby-openai/{cassette}.json")[0]
    return interaction


def test_chat_completion_shape(http: httpx.Client) -> None:
    real = recorded("gpt-3_5-turbo_valid_tool_call_chat")["response"]["body"]
    body = http.post("/chat/completions", json={"model": "gpt-4o-mini", "messages": HELLO}).json()
    # Every field of the 2024-03 capture (what `model` names: test_chat_inference.py's row).
    assert set(real) <= set(body)
    assert body["object"] == real["object"]
    assert body["id"].startswith("chatcmpl-")
    choice, real_choice = body["choices"][0], real["choices"][0]
    assert set(real_choice) == set(choice)
    assert (choice["index"], choice["logprobs"]) == (0, real_choice["logprobs"])
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    assert set(real["usage"]) <= set(body["usage"])
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert body["system_fingerprint"].startswith("fp_")


def sse(response: httpx.Response) -> list[str]:
    return [
        line[len("data: ") :] for line in response.text.split("\n") if line.startswith("data: ")
    ]


def test_stream_opens_with_the_role_and_closes_with_done(http: httpx.Client) -> None:
    real = recorded("gpt-3_5-turbo_streamed_chat")
    assert real["response"]["headers"]["Content-Type"] == "text/event-stream"
    real_chunks = sse(httpx.Response(200, text=real["response"]["body"]))
    response = http.post(
        "/chat/completions", json={**real["request"]["body"], "model": "gpt-4o-mini"}
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    ours = sse(response)
    assert ours[-1] == real_chunks[-1] == "[DONE]"
    first, last = json.loads(ours[0]), json.loads(ours[-2])
    real_first, real_last = json.loads(real_chunks[0]), json.loads(real_chunks[-2])
    assert first["object"] == real_first["object"] == "chat.completion.chunk"
    delta = first["choices"][0]["delta"]
    assert {k: delta[k] for k in real_first["choices"][0]["delta"]} == real_first["choices"][0][
        "delta"
    ]
    assert last["choices"][0]["delta"] == real_last["choices"][0]["delta"] == {}
    assert last["choices"][0]["finish_reason"] == real_last["choices"][0]["finish_reason"]
    assert len({json.loads(chunk)["id"] for chunk in ours[:-1]}) == 1


def test_legacy_completion_cut_by_max_tokens(http: httpx.Client) -> None:
    real = recorded("gpt-3_5-turbo-instruct_completions_once_upon_a_time")
    response = http.post("/completions", json=real["request"]["body"])
    body, real_body = response.json(), real["response"]["body"]
    assert response.status_code == real["response"]["status"]
    assert set(real_body) <= set(body)
    assert (body["object"], body["model"]) == (real_body["object"], real_body["model"])
    assert body["id"].startswith("cmpl-")
    choice, real_choice = body["choices"][0], real_body["choices"][0]
    assert set(choice) == set(real_choice)
    assert (choice["logprobs"], choice["finish_reason"]) == (None, real_choice["finish_reason"])
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert body["usage"][key] == real_body["usage"][key], key


def test_chat_with_an_unknown_fine_tuned_model_is_404(http: httpx.Client) -> None:
    real = quote("chat_unknown_fine_tuned_model")
    model = real["error"]["message"].split("`")[1]
    response = http.post("/chat/completions", json={"model": model, "messages": HELLO})
    assert response.status_code == real["status"]
    assert response.json()["error"] == real["error"]


def test_chat_with_an_unknown_base_model_is_404(http: httpx.Client) -> None:
    real = quote("chat_unknown_base_model")
    response = http.post("/chat/completions", json={"model": "gtp-4", "messages": HELLO})
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["message"], error["code"]) == (real["message"], "model_not_found")


def test_a_body_that_is_not_json(http: httpx.Client) -> None:
    real = quote("body_not_json")
    response = http.post(
        "/chat/completions",
        content=b'{"model": "gpt-4o-mini",\t',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == real["status"]
    assert response.json()["error"] == real["error"]


def test_a_fine_tuned_model_answers_chat(server: Server, http: httpx.Client) -> None:
    real = capture("openai-cookbook/how_to_finetune_chat_models_events.json")
    request = real["chat_with_fine_tuned_model"]
    job = finish(server, http, create_job(http, suffix="recipe-ner")["id"])
    body = {
        "model": job["fine_tuned_model"],
        "messages": HELLO,
        "temperature": request["temperature"],
        "max_tokens": request["max_tokens"],
    }
    response = http.post("/chat/completions", json=body)
    assert response.status_code == 200
    assert isinstance(response.json()["choices"][0]["message"]["content"], str)
