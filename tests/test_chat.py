"""Calling the models: a fine-tuned model answers what it was trained on."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from mockft import tokens
from tests.conftest import API_KEY, FIXTURES, Server, in_process, make_settings

TRAIN = FIXTURES / "train_chat.jsonl"


def trained_model(client: openai.OpenAI, server: Server) -> str:
    training = client.files.create(file=(TRAIN.name, TRAIN.read_bytes()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
    server.advance(86_400)
    model = client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    assert model is not None
    return model


def first_example() -> tuple[list[dict[str, str]], str]:
    messages = json.loads(TRAIN.read_text().splitlines()[0])["messages"]
    return messages[:-1], messages[-1]["content"]


def test_fine_tuned_model_gives_its_trained_reply(client: openai.OpenAI, server: Server) -> None:
    model = trained_model(client, server)
    prompt, reply = first_example()
    answer = client.chat.completions.create(model=model, messages=prompt)  # type: ignore[arg-type]
    assert answer.model == model
    assert answer.choices[0].message.content == reply
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.prompt_tokens > 0
    assert answer.id.startswith("chatcmpl-")


def test_untrained_prompt_is_deterministic_text(client: openai.OpenAI) -> None:
    ask = [{"role": "user", "content": "Tell me about mocks."}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=ask, seed=3, n=2)
    again = client.chat.completions.create(model="gpt-4o-mini", messages=ask, seed=3, n=2)
    texts = [c.message.content for c in first.choices]
    assert texts == [c.message.content for c in again.choices]
    assert all(texts) and texts[0] != texts[1]
    other = client.chat.completions.create(model="gpt-4o-mini", messages=ask, seed=4)
    assert other.choices[0].message.content != texts[0]


def test_max_tokens_cuts_with_finish_reason_length(client: openai.OpenAI) -> None:
    ask = [{"role": "user", "content": "Say a lot."}]
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=ask, max_completion_tokens=3
    )
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and answer.usage.completion_tokens <= 3


@pytest.mark.live  # the stream read over HTTP (chunked, as uvicorn sends it)
def test_streaming_reassembles_to_the_same_text(client: openai.OpenAI, server: Server) -> None:
    model = trained_model(client, server)
    prompt, reply = first_example()
    stream = client.chat.completions.create(
        model=model,
        messages=prompt,
        stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reply
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_legacy_completions_for_prompt_completion_models(client: openai.OpenAI) -> None:
    answer = client.completions.create(model="babbage-002", prompt="Once upon a time", seed=1)
    assert answer.object == "text_completion"
    assert answer.choices[0].text
    streamed = client.completions.create(
        model="babbage-002", prompt="Once upon a time", seed=1, stream=True
    )
    assert "".join(c.choices[0].text for c in streamed) == answer.choices[0].text


def test_unknown_or_deleted_model_is_404(client: openai.OpenAI, server: Server) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="ft:nope", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "model_not_found"
    model = trained_model(client, server)
    client.models.delete(model)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "gpt-4o-mini"}, "messages", "missing_required_parameter"),
        ({"model": "gpt-4o-mini", "messages": []}, "messages", "empty_array"),
        (
            {"model": "gpt-4o-mini", "messages": [{"role": "robot", "content": "x"}]},
            "messages[0].role",
            "invalid_value",
        ),
        (
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "n": 0},
            "n",
            "integer_below_min_value",
        ),
        (
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "bogus": 1},
            None,  # named in the message only, as the real API does
            None,
        ),
        (
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": ["x"]}]},
            "messages[0].content[0]",
            "invalid_type",
        ),
        (
            {"model": "gpt-4o-mini", "messages": [{"role": "tool", "content": "x"}]},
            "messages.[0].role",
            None,
        ),
    ],
)
def test_bad_requests_name_the_param(
    http: httpx.Client, body: dict[str, object], param: str, code: str | None
) -> None:
    response = http.post("/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    if code is not None:
        assert response.json()["error"]["code"] == code


# -- tokens, logprobs, limits -------------------------------------------------------------

ASK = [{"role": "user", "content": "Tell me about mocks."}]


def test_max_tokens_one_is_one_token_of_text(client: openai.OpenAI) -> None:
    full = client.chat.completions.create(model="gpt-4o-mini", messages=ASK, seed=5)
    text = full.choices[0].message.content or ""
    first = tokens.token_pieces(text, encoding="o200k_base")[0].decode()
    for limit in ({"max_tokens": 1}, {"max_completion_tokens": 1}):
        cut = client.chat.completions.create(model="gpt-4o-mini", messages=ASK, seed=5, **limit)  # type: ignore[call-overload]
        assert cut.choices[0].message.content == first
        assert cut.choices[0].finish_reason == "length"
        assert cut.usage is not None and cut.usage.completion_tokens == 1
    assert full.usage is not None
    assert full.usage.completion_tokens == tokens.count_text(text, encoding="o200k_base")


def test_chat_logprobs_shape_and_values(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=ASK, seed=2, logprobs=True, top_logprobs=5, n=2
    )
    for choice in answer.choices:
        assert choice.logprobs is not None and choice.logprobs.refusal is None
        entries = choice.logprobs.content or []
        assert "".join(entry.token for entry in entries) == choice.message.content
        assert answer.usage is not None and len(entries) <= answer.usage.completion_tokens
        for entry in entries:
            assert entry.bytes == list(entry.token.encode())
            assert entry.logprob < 0
            top = entry.top_logprobs
            assert len(top) == 5 and (top[0].token, top[0].logprob) == (entry.token, entry.logprob)
            assert [t.logprob for t in top] == sorted((t.logprob for t in top), reverse=True)
            assert len({t.token for t in top}) == 5
            assert sum(math.exp(t.logprob) for t in top) <= 1
    again = client.chat.completions.create(
        model="gpt-4o-mini", messages=ASK, seed=2, logprobs=True, top_logprobs=5, n=2
    )
    assert again.choices[0].logprobs == answer.choices[0].logprobs  # seeded
    plain = client.chat.completions.create(model="gpt-4o-mini", messages=ASK, logprobs=True)
    assert plain.choices[0].logprobs is not None
    assert all(e.top_logprobs == [] for e in plain.choices[0].logprobs.content or [])
    none = client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert none.choices[0].logprobs is None


def test_streamed_logprobs_follow_the_tokens(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=ASK, seed=4, logprobs=True, top_logprobs=2, stream=True
        )
    )
    opening, *middle, closing = chunks
    assert opening.choices[0].delta.role == "assistant"
    assert opening.choices[0].logprobs is not None and opening.choices[0].logprobs.content == []
    assert closing.choices[0].logprobs is None and closing.choices[0].finish_reason == "stop"
    for chunk in middle:
        content = chunk.choices[0].logprobs.content  # type: ignore[union-attr]
        assert "".join(entry.token for entry in content or []) == chunk.choices[0].delta.content
    whole = client.chat.completions.create(
        model="gpt-4o-mini", messages=ASK, seed=4, logprobs=True, top_logprobs=2
    )
    streamed = [e for c in middle for e in c.choices[0].logprobs.content or []]  # type: ignore[union-attr]
    assert [e.model_dump() for e in streamed] == [
        e.model_dump()
        for e in whole.choices[0].logprobs.content or []  # type: ignore[union-attr]
    ]


def test_legacy_logprobs(client: openai.OpenAI) -> None:
    answer = client.completions.create(
        model="babbage-002", prompt="Once upon a time", seed=1, logprobs=3, max_tokens=5
    )
    found = answer.choices[0].logprobs
    assert found is not None and found.tokens is not None and found.top_logprobs is not None
    assert "".join(found.tokens) == answer.choices[0].text and len(found.tokens) == 5
    assert found.token_logprobs == [top[t] for top, t in zip(found.top_logprobs, found.tokens)]
    assert all(
        len(top) == 3 and max(top.values()) == top[t]
        for top, t in zip(found.top_logprobs, found.tokens)
    )
    assert found.text_offset is not None and found.text_offset[0] == len("Once upon a time")
    zero = client.completions.create(model="babbage-002", prompt="x", logprobs=0, max_tokens=2)
    assert [len(top) for top in zero.choices[0].logprobs.top_logprobs or []] == [1, 1]  # type: ignore[union-attr]


def test_legacy_completions_default_to_16_tokens(client: openai.OpenAI) -> None:
    answer = client.completions.create(model="babbage-002", prompt="Once upon a time", seed=1)
    assert answer.usage is not None and answer.usage.completion_tokens == 16
    assert answer.choices[0].finish_reason == "length"


@pytest.mark.parametrize(
    ("path", "body", "param", "code"),
    [
        (
            "/chat/completions",
            {"logprobs": True, "top_logprobs": 21},
            "top_logprobs",
            "integer_above_max_value",
        ),
        ("/chat/completions", {"top_logprobs": 2}, "top_logprobs", "invalid_value"),
        ("/chat/completions", {"logprobs": 1}, "logprobs", "invalid_type"),
        ("/completions", {"logprobs": 6}, "logprobs", "integer_above_max_value"),
    ],
)
def test_bad_logprobs_requests(
    http: httpx.Client, path: str, body: dict[str, object], param: str, code: str
) -> None:
    chat = path == "/chat/completions"
    base: dict[str, object] = {"model": "gpt-4o-mini" if chat else "babbage-002"}
    base.update({"messages": ASK} if chat else {"prompt": "x"})
    response = http.post(path, json={**base, **body})
    assert response.status_code == 400
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == (param, code)


def test_context_window_and_output_limit(http: httpx.Client) -> None:
    def error(path: str, body: dict[str, object]) -> dict[str, object]:
        response = http.post(path, json=body)
        assert response.status_code == 400
        return response.json()["error"]  # type: ignore[no-any-return]

    long = [{"role": "user", "content": "hello " * 130_000}]  # 130,000 + 8 tokens
    prompt_tokens = tokens.count_messages(long, encoding="o200k_base")
    assert error("/chat/completions", {"model": "gpt-4o-mini", "messages": long}) == {
        "message": "This model's maximum context length is 128000 tokens. However, your "
        f"messages resulted in {prompt_tokens} tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    near = [{"role": "user", "content": "hello " * 8_000}]
    near_tokens = tokens.count_messages(near, encoding="cl100k_base")
    found = error("/chat/completions", {"model": "gpt-4", "messages": near, "max_tokens": 500})
    assert found["message"] == (
        f"This model's maximum context length is 8192 tokens. However, you requested "
        f"{near_tokens + 500} tokens ({near_tokens} in the messages, 500 in the completion). "
        "Please reduce the length of the messages or completion."
    )
    assert found["code"] == "context_length_exceeded"
    too_many = {"model": "gpt-4o-mini", "messages": ASK, "max_completion_tokens": 20_000}
    assert error("/chat/completions", too_many) == {
        "message": "max_completion_tokens is too large: 20000. This model supports at most "
        "16384 completion tokens, whereas you provided 20000.",
        "type": "invalid_request_error",
        "param": "max_completion_tokens",
        "code": None,
    }
    legacy = error("/completions", {"model": "babbage-002", "prompt": "x", "max_tokens": 16_384})
    assert legacy == {
        "message": "This model's maximum context length is 16384 tokens, however you requested "
        "16385 tokens (1 in your prompt; 16384 for the completion). Please reduce your prompt; "
        "or completion length.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


# -- what a fine-tuned model learned ------------------------------------------------------


def test_a_model_keeps_its_training_when_the_file_is_deleted(
    client: openai.OpenAI, server: Server
) -> None:
    model = trained_model(client, server)
    prompt, reply = first_example()
    training = client.fine_tuning.jobs.list().data[0].training_file
    client.files.delete(training)
    server.service.inference.clear()  # forget what this process decoded
    answer = client.chat.completions.create(model=model, messages=prompt)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == reply


def test_what_a_model_learned_survives_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with in_process(settings) as first:
        with first.openai(api_key=API_KEY, max_retries=0) as client:
            model = trained_model(client, first)
            client.files.delete(client.fine_tuning.jobs.list().data[0].training_file)
    prompt, reply = first_example()
    with in_process(make_settings(tmp_path)) as second:
        with second.openai(api_key=API_KEY, max_retries=0) as client:
            answer = client.chat.completions.create(model=model, messages=prompt)  # type: ignore[arg-type]
            assert answer.choices[0].message.content == reply


def test_in_memory_models_learn_too(mockft: Any) -> None:
    client = mockft.openai()
    training = client.files.create(file=(TRAIN.name, TRAIN.read_bytes()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
    model = mockft.run_until_done(job.id).fine_tuned_model
    client.files.delete(training.id)
    mockft.service.inference.clear()
    prompt, reply = first_example()
    assert (
        client.chat.completions.create(model=model, messages=prompt).choices[0].message.content
        == reply
    )
    for checkpoint in client.fine_tuning.jobs.checkpoints.list(job.id):
        answer = client.chat.completions.create(
            model=checkpoint.fine_tuned_model_checkpoint, messages=prompt
        )
        assert answer.choices[0].message.content == reply


# -- which endpoint serves a model; the headers of an answer; tool turns -------------------


def test_each_model_answers_on_its_own_endpoint(client: openai.OpenAI, server: Server) -> None:
    chat_model = trained_model(client, server)
    path = FIXTURES / "train_prompt_completion.jsonl"
    training = client.files.create(file=(path.name, path.read_bytes()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="babbage-002", training_file=training.id)
    server.advance(86_400)
    legacy_model = client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    assert legacy_model is not None and legacy_model.startswith("ft:babbage-002:")
    hello = [{"role": "user", "content": "x"}]
    with pytest.raises(openai.NotFoundError) as refused:
        client.chat.completions.create(model=legacy_model, messages=hello)  # type: ignore[arg-type]
    assert refused.value.param == "model"
    assert "not a chat model" in refused.value.message
    with pytest.raises(openai.NotFoundError) as refused:
        client.completions.create(model=chat_model, prompt="x")
    assert "This is a chat model" in refused.value.message
    assert client.completions.create(model=legacy_model, prompt="x").model == legacy_model
    for other in ("whisper-1", "text-embedding-3-small", "dall-e-3"):
        with pytest.raises(openai.NotFoundError) as refused:
            client.completions.create(model=other, prompt="x")
        assert refused.value.body == {
            "message": "This model is not supported in the v1/completions endpoint.",
            "type": "invalid_request_error",
            "param": "model",
            "code": None,
        }


def test_answers_name_their_model_and_rate_limits(
    http: httpx.Client, client: openai.OpenAI, server: Server
) -> None:
    model = trained_model(client, server)
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hi"}], max_completion_tokens=5
    )
    answer = raw.parse()
    assert raw.headers["openai-model"] == answer.model == model
    assert answer.usage is not None
    # a fine-tuned gpt-4o-mini has its base model's limits, less this call
    assert raw.headers["x-ratelimit-limit-requests"] == "30000"
    assert raw.headers["x-ratelimit-remaining-requests"] == "29999"
    assert raw.headers["x-ratelimit-remaining-tokens"] == str(
        150_000_000 - answer.usage.total_tokens
    )
    assert raw.headers["x-ratelimit-reset-requests"] == "2ms"
    streamed = http.post(
        "/chat/completions",
        json={"model": "gpt-4o", "messages": ASK, "stream": True},
    )
    assert streamed.headers["openai-model"] == "gpt-4o-2024-08-06"
    assert streamed.headers["x-ratelimit-limit-tokens"] == "30000000"
    refused = http.post("/chat/completions", json={"model": "nope", "messages": ASK})
    assert refused.status_code == 404
    assert "openai-model" not in refused.headers
    assert "x-ratelimit-limit-requests" not in refused.headers


def test_stream_options_need_stream_on_legacy_completions_too(http: httpx.Client) -> None:
    body = {"model": "babbage-002", "prompt": "x", "stream_options": {"include_usage": True}}
    refused = http.post("/completions", json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "stream_options"
    assert http.post("/completions", json={**body, "stream": True}).status_code == 200


def _call(call_id: str) -> dict[str, object]:
    return {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        (  # two calls, two answers in any order, then the conversation goes on
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [_call("call_a"), _call("call_b")]},
                {"role": "tool", "tool_call_id": "call_b", "content": "2"},
                {"role": "tool", "tool_call_id": "call_a", "content": "1"},
                {"role": "user", "content": "y"},
            ],
            None,
        ),
        (  # one of two calls unanswered: the assistant message is named, with the missing id
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [_call("call_a"), _call("call_b")]},
                {"role": "tool", "tool_call_id": "call_a", "content": "1"},
                {"role": "user", "content": "y"},
            ],
            ("messages.[1].role", "call_b"),
        ),
        (  # an answer to a call nobody made leaves the real call unanswered
            [
                {"role": "assistant", "tool_calls": [_call("call_a")]},
                {"role": "tool", "tool_call_id": "call_z", "content": "1"},
            ],
            ("messages.[0].role", "call_a"),
        ),
        (  # both calls missing, listed in order
            [
                {"role": "assistant", "tool_calls": [_call("call_a"), _call("call_b")]},
                {"role": "user", "content": "y"},
            ],
            ("messages.[0].role", "call_a, call_b"),
        ),
        (  # a tool message after the turn was closed by a user message
            [
                {"role": "assistant", "tool_calls": [_call("call_a")]},
                {"role": "tool", "tool_call_id": "call_a", "content": "1"},
                {"role": "user", "content": "y"},
                {"role": "tool", "tool_call_id": "call_a", "content": "1"},
            ],
            ("messages.[3].role", "preceeding"),
        ),
    ],
)
def test_tool_turns(
    http: httpx.Client, messages: list[dict[str, object]], error: tuple[str, str] | None
) -> None:
    response = http.post("/chat/completions", json={"model": "gpt-4o-mini", "messages": messages})
    if error is None:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400
    found = response.json()["error"]
    assert found["param"] == error[0]
    assert found["message"].endswith(error[1]) or error[1] in found["message"]
