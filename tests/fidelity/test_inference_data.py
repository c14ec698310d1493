"""Chat and legacy completions, asserted from captures of the real API (data branch):
logprobs shapes, cuts by tokens, context-window and output limits.

Every expected value comes from a capture (tests/data/captures/data/, or a quote with its
URL and date), never from mockft's output. See docs/fidelity.md, "Chat and completions"."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import openai

from tests.conftest import FIXTURES, Server

CAPTURES = Path(__file__).resolve().parent.parent / "data" / "captures" / "data"
HELLO = [{"role": "user", "content": "Hello!"}]


@cache
def capture(name: str) -> Any:
    return json.loads((CAPTURES / name).read_text(encoding="utf-8"))


def shape(value: Any) -> Any:
    """A JSON value's shape: keys in order, JSON types for leaves, the first item of lists."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return ["list", shape(value[0])] if value else ["list"]
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    return "number" if isinstance(value, (int, float)) else type(value).__name__


def refused(http: httpx.Client, path: str, json: dict[str, Any]) -> Any:
    """The error a request is refused with (a 400)."""
    response = http.post(path, json=json)
    assert response.status_code == 400
    return response.json()["error"]


def sse(response: httpx.Response) -> list[dict[str, Any]]:
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(event) for event in events[:-1]]


# -- issue 12 item 16: logprobs -----------------------------------------------------------


def test_a_streamed_chat_with_logprobs(http: httpx.Client) -> None:
    # openai/openai-go streamaccumulator_test.go: a gpt-4o-2024-05-13 stream (2024-09-03).
    real = capture("openai-go_chat_stream_logprobs.json")["chunks"]
    body = {"model": "gpt-4o-mini", "messages": HELLO, "logprobs": True, "stream": True}
    chunks = sse(http.post("/chat/completions", json=body))
    opening, content, closing = chunks[0], chunks[1], chunks[-1]
    assert opening["choices"][0]["logprobs"] == real[0]["choices"][0]["logprobs"]
    assert opening["choices"][0]["delta"] == real[0]["choices"][0]["delta"]
    assert shape(content["choices"][0]["logprobs"]) == shape(real[1]["choices"][0]["logprobs"])
    assert [list(c) for c in content["choices"]] == [list(c) for c in real[1]["choices"]]
    entry = content["choices"][0]["logprobs"]["content"]
    assert len(entry) == 1 and entry[0]["token"] == content["choices"][0]["delta"]["content"]
    assert closing["choices"][0]["logprobs"] is real[-1]["choices"][0]["logprobs"] is None


def test_chat_logprobs_with_top_logprobs(http: httpx.Client) -> None:
    # The same capture's entries (token, logprob, bytes, top_logprobs), asked with
    # top_logprobs: each alternative has token, logprob and bytes, the sampled token first.
    real = capture("openai-go_chat_stream_logprobs.json")["chunks"][1]["choices"][0]["logprobs"]
    body = {"model": "gpt-4o-mini", "messages": HELLO, "logprobs": True, "top_logprobs": 3}
    found = http.post("/chat/completions", json=body).json()["choices"][0]["logprobs"]
    assert list(found) == list(real) == ["content", "refusal"]
    first = found["content"][0]
    assert list(first) == list(real["content"][0])
    assert [list(top) for top in first["top_logprobs"]] == [["token", "logprob", "bytes"]] * 3
    assert first["top_logprobs"][0] == {k: first[k] for k in ("token", "logprob", "bytes")}


def test_legacy_logprobs_shape(http: httpx.Client) -> None:
    # openai-php/client tests/Fixtures/Completion.php (2022-10-27), code-davinci-002.
    real = capture("openai-php_completion_logprobs.json")["choices"][0]
    body = {"model": "babbage-002", "prompt": "PHP", "logprobs": 2, "max_tokens": 2}
    choice = http.post("/completions", json=body).json()["choices"][0]
    assert list(choice) == list(real)
    assert list(choice["logprobs"]) == list(real["logprobs"])
    assert len(choice["logprobs"]["tokens"]) == len(choice["logprobs"]["text_offset"]) == 2
    assert choice["logprobs"]["text_offset"][0] == len("PHP")


def test_the_cookbook_classifier_reads_top_logprobs(client: openai.OpenAI, server: Server) -> None:
    # openai-cookbook Fine-tuned_classification.ipynb: a fine-tuned babbage model asked with
    # max_tokens=1, logprobs=2; it reads choices[0].logprobs.top_logprobs[0], a dict of the
    # two most likely first tokens.
    path = FIXTURES / "train_prompt_completion.jsonl"
    training = client.files.create(file=(path.name, path.read_bytes()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="babbage-002", training_file=training.id)
    server.advance(86_400)
    model = client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    assert model is not None
    example = json.loads(path.read_text().splitlines()[0])
    answer = client.completions.create(
        model=model, prompt=example["prompt"], max_tokens=1, temperature=0, logprobs=2
    )
    top = answer.choices[0].logprobs.top_logprobs[0]  # type: ignore[union-attr,index]
    assert len(top) == 2
    assert max(top, key=top.__getitem__) == answer.choices[0].text
    assert example["completion"].startswith(answer.choices[0].text)


# -- issue 12 item 17: cut by tokens ------------------------------------------------------


def test_max_tokens_one_gives_one_token(http: httpx.Client) -> None:
    # The API reference: max_tokens bounds the tokens generated, finish_reason "length"
    # when it stopped them; ruby-openai's recorded answers count completion_tokens so.
    body = {"model": "gpt-4o-mini", "messages": HELLO, "max_tokens": 1}
    answer = http.post("/chat/completions", json=body).json()
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"]["completion_tokens"] == 1
    assert answer["choices"][0]["message"]["content"] != ""


# -- issue 12 item 18: context window and output limit ------------------------------------


def test_messages_over_the_context_window(http: httpx.Client) -> None:
    # crewAIInc/crewAI-examples#121 (2024-06-13), gpt-4: 'Error code: 400 - {'error':
    # {'message': "This model's maximum context length is 8192 tokens. However, your messages
    # resulted in 8227 tokens. Please reduce the length of the messages.", 'type':
    # 'invalid_request_error', 'param': 'messages', 'code': 'context_length_exceeded'}}'
    messages = [{"role": "user", "content": "hello" + " hello" * 8219}]  # 8227 tokens
    assert refused(http, "/chat/completions", json={"model": "gpt-4", "messages": messages}) == {
        "message": "This model's maximum context length is 8192 tokens. However, your "
        "messages resulted in 8227 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }


def test_messages_and_completion_over_the_context_window(http: httpx.Client) -> None:
    # ChatGPTNextWeb/NextChat#3195 (2023-11-08), gpt-4 with max_tokens 8192 and "Hello".
    messages = [{"role": "user", "content": "hello" + " hello" * 56}]  # 64 tokens
    body = {"model": "gpt-4", "messages": messages, "max_tokens": 8192}
    assert refused(http, "/chat/completions", json=body) == {
        "message": "This model's maximum context length is 8192 tokens. However, you "
        "requested 8256 tokens (64 in the messages, 8192 in the completion). Please reduce "
        "the length of the messages or completion.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }


def test_max_tokens_over_the_output_limit(http: httpx.Client) -> None:
    # ChatGPTNextWeb/NextChat#3195 (2023-11-08), gpt-3.5-turbo-1106 with max_tokens 8192.
    body = {"model": "gpt-3.5-turbo-1106", "messages": HELLO, "max_tokens": 8192}
    assert refused(http, "/chat/completions", json=body) == {
        "message": "max_tokens is too large: 8192. This model supports at most 4096 "
        "completion tokens, whereas you provided 8192.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": None,
    }


def test_a_legacy_prompt_over_the_context_window(http: httpx.Client) -> None:
    # The legacy wording, e.g. "This model's maximum context length is 4097 tokens, however
    # you requested 4201 tokens (3945 in your prompt; 256 for the completion). Please reduce
    # your prompt; or completion length." (public scripts, 2023; param and code null in a
    # body quoted with the same wording).
    body = {"model": "babbage-002", "prompt": "hello" + " hello" * 16_000, "max_tokens": 400}
    assert refused(http, "/completions", json=body) == {
        "message": "This model's maximum context length is 16384 tokens, however you "
        "requested 16401 tokens (16001 in your prompt; 400 for the completion). Please "
        "reduce your prompt; or completion length.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
