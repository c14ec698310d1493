"""Chat and completions: the inference branch's rows of docs/fidelity.md ("Chat and
completions"), each asserted from its capture: the model an answer names, its headers, the
endpoint a model belongs to, and the real 400s for arguments, streams, tool turns and content.

Every expected value comes from a capture (ruby-openai cassettes, `issues/errors.json`,
`issues/inference.json`), never from mockft's output."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from mockft import ratelimits
from tests.fidelity.conftest import capture, quote

HELLO = [{"role": "user", "content": "Hello!"}]
RATE_LIMIT_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
)
# A Go duration as the reset headers write one: "17ms", "16.227s", "6m0s".
GO_DURATION = re.compile(r"^(0s|\d+ms|(\d+h)?(\d+m)?\d+(\.\d+)?s)$")
MODEL_CASSETTES = (
    "gpt-3_5-turbo_chat",
    "gpt-3_5-turbo_streamed_chat",
    "gpt-3_5-turbo_valid_tool_call_chat",
    "gpt-3_5-turbo-instruct_completions_once_upon_a_time",
)
OTHER_CASSETTES = (
    "files_list",
    "files_upload_file",
    "files_fetch_image_retrieve",
    "finetunes_create",
    "finetunes_list",
    "models_list",
    "models_retrieve",
)


def recorded(cassette: str, index: int = 0) -> dict[str, Any]:
    interaction: dict[str, Any] = capture(f"ruby-openai/{cassette}.json")[index]
    return interaction


def said(key: str) -> dict[str, Any]:
    """An answer users pasted (`issues/inference.json`)."""
    entry: dict[str, Any] = capture("issues/inference.json")["quotes"][key]
    return entry


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def chunks(response: httpx.Response) -> list[dict[str, Any]]:
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: {")]
    return [json.loads(event) for event in events]


def chat(http: httpx.Client, messages: list[dict[str, Any]], **body: Any) -> httpx.Response:
    return http.post(
        "/chat/completions", json={"model": "gpt-4o-mini", "messages": messages, **body}
    )


# -- D1, D2: the model that answered ------------------------------------------------------


def test_an_alias_answers_with_its_snapshot(http: httpx.Client) -> None:
    # ruby-openai 2023-11-26: "gpt-3.5-turbo" answered by "gpt-3.5-turbo-0613"; 2024-03-26:
    # by "gpt-3.5-turbo-0125". Which snapshot changes over time; that it is one does not.
    for cassette in ("gpt-3_5-turbo_chat", "gpt-3_5-turbo_valid_tool_call_chat"):
        real = recorded(cassette)
        alias = real["request"]["body"]["model"]
        assert real["response"]["body"]["model"].startswith(alias + "-")
    body = chat(http, HELLO, model="gpt-3.5-turbo").json()
    assert body["model"].startswith("gpt-3.5-turbo-")
    assert chat(http, HELLO).json()["model"] == "gpt-4o-mini-2024-07-18"
    snapshot = chat(http, HELLO, model="gpt-4o-mini-2024-07-18").json()
    assert snapshot["model"] == "gpt-4o-mini-2024-07-18"


def test_a_streamed_alias_names_its_snapshot_in_every_chunk(http: httpx.Client) -> None:
    real = recorded("gpt-3_5-turbo_streamed_chat")
    alias = real["request"]["body"]["model"]
    real_models = {c["model"] for c in chunks(httpx.Response(200, text=real["response"]["body"]))}
    assert len(real_models) == 1 and real_models.pop().startswith(alias + "-")
    response = chat(http, HELLO, stream=True, stream_options={"include_usage": True})
    assert {c["model"] for c in chunks(response)} == {"gpt-4o-mini-2024-07-18"}


def test_legacy_completions_name_the_model_as_asked(http: httpx.Client) -> None:
    # 2024-03-31: "gpt-3.5-turbo-instruct" answers as "gpt-3.5-turbo-instruct", though it is
    # an alias of a dated snapshot (gpt-3.5-turbo-instruct-0914 is listed by /v1/models).
    real = recorded("gpt-3_5-turbo-instruct_completions_once_upon_a_time")
    asked = real["request"]["body"]["model"]
    assert real["response"]["body"]["model"] == real["response"]["headers"]["Openai-Model"]
    response = http.post("/completions", json=real["request"]["body"])
    assert response.json()["model"] == real["response"]["body"]["model"] == asked
    assert response.headers["openai-model"] == real["response"]["headers"]["Openai-Model"]


@pytest.mark.parametrize("cassette", MODEL_CASSETTES)
def test_the_answer_names_its_model_in_openai_model(http: httpx.Client, cassette: str) -> None:
    real = recorded(cassette)
    body = real["response"]["body"]
    if isinstance(body, str):  # a stream: the model of its chunks
        body = chunks(httpx.Response(200, text=body))[0]
    assert real["response"]["headers"]["Openai-Model"] == body["model"]
    path = "/completions" if "prompt" in real["request"]["body"] else "/chat/completions"
    response = http.post(path, json=real["request"]["body"])
    assert response.status_code == 200, response.text
    model = response.json()["model"] if "json" in response.headers["content-type"] else None
    model = model or chunks(response)[0]["model"]
    assert response.headers["openai-model"] == model


# -- D3: rate-limit headers ---------------------------------------------------------------


@pytest.mark.parametrize("cassette", MODEL_CASSETTES)
def test_answers_carry_rate_limit_headers(http: httpx.Client, cassette: str) -> None:
    real = recorded(cassette)
    headers = lowered(real["response"]["headers"])
    assert set(RATE_LIMIT_HEADERS) <= set(headers)
    path = "/completions" if "prompt" in real["request"]["body"] else "/chat/completions"
    response = http.post(path, json=real["request"]["body"])
    for name in RATE_LIMIT_HEADERS:
        assert name in response.headers, name
        if name.startswith("x-ratelimit-reset"):  # a Go duration, as captured
            assert GO_DURATION.match(headers[name]), headers[name]
            assert GO_DURATION.match(response.headers[name]), response.headers[name]
        else:  # a count, as captured
            assert headers[name].isdigit() and response.headers[name].isdigit(), name
    limit = int(response.headers["x-ratelimit-limit-requests"])
    assert int(response.headers["x-ratelimit-remaining-requests"]) == limit - 1


def test_a_replayed_completion_announces_the_captured_limits(http: httpx.Client) -> None:
    # 2024-03-31: gpt-3.5-turbo-instruct, 4 prompt tokens and 5 completion tokens: 3500
    # requests and 90000 tokens a minute, 3499 and 89991 left, whole again in 17ms and 6ms.
    real = recorded("gpt-3_5-turbo-instruct_completions_once_upon_a_time")
    response = http.post("/completions", json=real["request"]["body"])
    real_usage = real["response"]["body"]["usage"]
    assert {key: response.json()["usage"][key] for key in real_usage} == real_usage
    expected = lowered(real["response"]["headers"])
    assert {name: response.headers[name] for name in RATE_LIMIT_HEADERS} == {
        name: expected[name] for name in RATE_LIMIT_HEADERS
    }


def test_remaining_and_reset_follow_the_captured_arithmetic() -> None:
    # 2025-05-26 (a chat completion): of 5000 requests and 160000 tokens a minute, one
    # request and 24 tokens used: 4999 and 159976 left, whole again in 12ms and 9ms.
    real = said("chat_rate_limit_headers")["headers"]
    limits = ratelimits.Limits(
        int(real["x-ratelimit-limit-requests"]), int(real["x-ratelimit-limit-tokens"])
    )
    used = limits.tokens - int(real["x-ratelimit-remaining-tokens"])
    ours = ratelimits.headers(limits, used)
    assert ours == {name: real[name] for name in RATE_LIMIT_HEADERS}


@pytest.mark.parametrize("cassette", OTHER_CASSETTES)
def test_other_endpoints_send_no_rate_limit_headers(http: httpx.Client, cassette: str) -> None:
    # Files, fine-tuning and models answers (2023-11 to 2025-02) carry no x-ratelimit-*.
    for interaction in capture(f"ruby-openai/{cassette}.json"):
        assert not any(
            h.lower().startswith("x-ratelimit") for h in interaction["response"]["headers"]
        )
    for path in ("/models", "/models/gpt-4o-mini", "/files", "/fine_tuning/jobs"):
        response = http.get(path)
        assert response.status_code == 200
        assert not [h for h in response.headers if h.startswith("x-ratelimit")], path


# -- D4: an unrecognized argument -----------------------------------------------------------


@pytest.mark.parametrize(
    ("real", "name"),
    [
        (quote("chat_unrecognized_argument"), "top_k"),
        (said("chat_unrecognized_argument_thinking"), "thinking"),
    ],
)
def test_an_unrecognized_argument_names_no_param(
    http: httpx.Client, real: dict[str, Any], name: str
) -> None:
    response = chat(http, HELLO, **{name: 3})
    assert response.status_code == real["status"]
    assert response.json()["error"] == real["error"]


def test_an_unrecognized_completions_argument_names_no_param(http: httpx.Client) -> None:
    real = quote("chat_unrecognized_argument")
    body = {"model": "babbage-002", "prompt": "x", "top_k": 3}
    response = http.post("/completions", json=body)
    assert response.status_code == real["status"]
    assert response.json()["error"] == real["error"]


# -- D5, D6: the endpoint a model belongs to ---------------------------------------------


@pytest.mark.parametrize(
    ("real", "model"),
    [
        (quote("completions_with_chat_model"), "gpt-3.5-turbo"),
        ({"status": 404, **said("completions_with_gpt_4o")}, "gpt-4o"),
        (quote("completions_with_chat_model"), "gpt-3.5-turbo-16k"),  # diffbot/code-gpt-docs#172
    ],
)
def test_completions_refuse_a_chat_model(
    http: httpx.Client, real: dict[str, Any], model: str
) -> None:
    response = http.post("/completions", json={"model": model, "prompt": "Once upon a time"})
    assert response.status_code == real["status"]
    assert response.json()["error"] == real["error"]


@pytest.mark.parametrize("model", ["babbage-002", "davinci-002", "gpt-3.5-turbo-instruct"])
def test_chat_refuses_a_completions_model(http: httpx.Client, model: str) -> None:
    real = quote("chat_with_completions_model")
    response = chat(http, HELLO, model=model)
    assert response.status_code == real["status"]
    assert response.json()["error"] == real["error"]


@pytest.mark.parametrize("model", ["whisper-1", "tts-1", "dall-e-3", "text-embedding-3-small"])
def test_chat_refuses_a_model_of_another_api(http: httpx.Client, model: str) -> None:
    # egoist/chatwise-releases#1256 (2026-02-26): the model was GPT-5.3 Codex, served by
    # neither chat nor legacy completions; the answer is the same "not a chat model".
    real = quote("chat_with_completions_model")
    response = chat(http, HELLO, model=model)
    assert response.status_code == real["status"]
    assert response.json()["error"] == real["error"]


# -- D7: the output limit -------------------------------------------------------------------


def test_max_tokens_above_the_model_output_limit(http: httpx.Client) -> None:
    # enoch3712/ExtractThinker#346 (2025-06-24, gpt-4o): the message; NextChat#3195
    # (2023-11-08): status 400, type, param max_tokens, code null.
    real = quote("chat_max_tokens_too_large")
    response = chat(http, HELLO, model="gpt-4o", max_tokens=32000)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": real["message"],
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": None,
    }


# -- D8: stream_options ---------------------------------------------------------------------


@pytest.mark.parametrize("stream", [{}, {"stream": False}])
def test_stream_options_need_stream(http: httpx.Client, stream: dict[str, Any]) -> None:
    real = quote("chat_stream_options_without_stream")
    response = chat(http, HELLO, stream_options={"include_usage": True}, **stream)
    assert response.status_code == real["status"]
    assert response.json()["error"] == real["error"]
    streamed = chat(http, HELLO, stream_options={"include_usage": True}, stream=True)
    assert streamed.status_code == 200


# -- D9, D10: tool turns --------------------------------------------------------------------


def call(call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}


def test_a_tool_message_must_answer_tool_calls(http: httpx.Client) -> None:
    # sdcb/chats#132 (2026-04-23): the wording, param "messages.[59].role"; langgraph#606
    # (2024-06-06): "messages.[2].role" for the third message. The index is the tool message's.
    real = quote("chat_tool_message_without_tool_calls")
    alone = [{"role": "tool", "content": "42", "tool_call_id": "call_1"}]
    response = chat(http, alone)
    assert response.status_code == 400
    assert response.json()["error"] == {**real["error"], "param": "messages.[0].role"}
    after_text = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": "no calls"},
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
    ]
    assert chat(http, after_text).json()["error"] == {**real["error"], "param": "messages.[2].role"}


def test_tool_calls_must_be_answered(http: httpx.Client) -> None:
    real = quote("chat_tool_calls_without_answers")
    call_id = real["error"]["message"].rsplit(": ", 1)[1]
    messages = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": [call(call_id)]},
        {"role": "user", "content": "y"},
    ]
    response = chat(http, messages)
    assert response.status_code == 400
    assert response.json()["error"] == {**real["error"], "param": "messages.[1].role"}
    unanswered_at_the_end = messages[:2]
    assert chat(http, unanswered_at_the_end).json()["error"] == response.json()["error"]


def test_answered_tool_calls_are_a_valid_conversation(http: httpx.Client) -> None:
    # The recorded tool call (ruby-openai 2024-03-26) answered by a tool message: the
    # conversation its caller sends next.
    real = recorded("gpt-3_5-turbo_valid_tool_call_chat")
    message = real["response"]["body"]["choices"][0]["message"]
    answers = [
        {"role": "tool", "tool_call_id": c["id"], "content": "sunny"} for c in message["tool_calls"]
    ]
    messages = [*real["request"]["body"]["messages"], message, *answers]
    response = chat(http, messages, tools=real["request"]["body"]["tools"])
    assert response.status_code == 200, response.text


# -- D11: content of the wrong type ---------------------------------------------------------


def test_content_of_the_wrong_type(http: httpx.Client) -> None:
    real = quote("chat_content_wrong_type")
    messages = [
        {"role": "user", "content": "x"},
        {"role": "user", "content": {"type": "text", "text": "hi"}},
    ]
    response = chat(http, messages)
    assert response.status_code == real["status"]
    error = response.json()["error"]
    assert error["message"] == real["message"]
    assert (error["param"], error["code"]) == ("messages[1].content", "invalid_type")
