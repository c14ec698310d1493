"""Calling the models: a fine-tuned model answers what it was trained on."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import FIXTURES, LiveServer

TRAIN = FIXTURES / "train_chat.jsonl"


def trained_model(client: openai.OpenAI, server: LiveServer) -> str:
    training = client.files.create(file=(TRAIN.name, TRAIN.read_bytes()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
    server.advance(86_400)
    model = client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    assert model is not None
    return model


def first_example() -> tuple[list[dict[str, str]], str]:
    messages = json.loads(TRAIN.read_text().splitlines()[0])["messages"]
    return messages[:-1], messages[-1]["content"]


def test_fine_tuned_model_gives_its_trained_reply(
    client: openai.OpenAI, server: LiveServer
) -> None:
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


def test_streaming_reassembles_to_the_same_text(client: openai.OpenAI, server: LiveServer) -> None:
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


def test_unknown_or_deleted_model_is_404(client: openai.OpenAI, server: LiveServer) -> None:
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
            "bogus",
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
