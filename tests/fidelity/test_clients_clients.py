"""What third-party clients showed mockft getting wrong (issue 12's bar, the `clients` branch).

The openai CLI, the cookbook notebooks, the openai-node example, DSPy, instructor,
LlamaIndex and LiteLLM were run unchanged against a fresh server (the drivers and how to
repeat the runs: `benchmarks/clients/README.md`). Where an answer differed from the real
API's, the fix is asserted here against the capture that shows the real answer
(`tests/data/captures/`); never against mockft's own output.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from typing import Any

from jsonschema import Draft202012Validator

from mockft.pytest_plugin import MockFT
from tests.fidelity.conftest import TRAIN, capture, response_of

PROMPT_COMPLETION = TRAIN.parent / "train_prompt_completion.jsonl"


def _upload(mockft: MockFT, path: Any = TRAIN) -> str:
    return mockft.openai().files.create(file=(path.name, path.read_bytes()), purpose="fine-tune").id


def _create(mockft: MockFT, **body: Any) -> dict[str, Any]:
    body.setdefault("model", "gpt-4o-mini")
    body.setdefault("training_file", _upload(mockft))
    response = mockft.http_client().post("/v1/fine_tuning/jobs", json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


# -- jobs --------------------------------------------------------------------------------


def test_a_cancelled_job_has_no_finished_at(mockft: MockFT) -> None:
    """simple-openai's job list (2023-11-21) shows two cancelled jobs, both with
    `finished_at: null`; LiteLLM's and the openai CLI's cancel printed a time."""
    captured = [
        job
        for job in capture("simple-openai/finetunings_getlist.json")["data"]
        if job["status"] == "cancelled"
    ]
    assert len(captured) == 2 and {job["finished_at"] for job in captured} == {None}

    http = mockft.http_client()
    running = _create(mockft)["id"]
    while http.get(f"/v1/fine_tuning/jobs/{running}").json()["status"] != "running":
        mockft.advance(30)
    waiting = _create(mockft)["id"]  # cancelled while it validates
    for job_id in (running, waiting):
        cancelled = http.post(f"/v1/fine_tuning/jobs/{job_id}/cancel").json()
        assert (cancelled["status"], cancelled["finished_at"]) == ("cancelled", None)
    mockft.advance(10_000)
    for job_id in (running, waiting):
        assert http.get(f"/v1/fine_tuning/jobs/{job_id}").json()["finished_at"] is None
    listed = http.get("/v1/fine_tuning/jobs").json()["data"]
    assert [job["finished_at"] for job in listed] == [None, None]


# -- result files ------------------------------------------------------------------------


def test_a_babbage_002_result_file_is_plain_csv(mockft: MockFT) -> None:
    """The cookbook's classification notebook (a babbage-002 job, 2024-01-05) writes
    `files.content(...).text` to result.csv and reads it with `pd.read_csv`: the columns
    below, so the file is CSV, not the base64 a chat model's result file is."""
    captured = capture("openai-cookbook/fine_tuned_classification.json")["result_file"]
    job = _create(mockft, model="babbage-002", training_file=_upload(mockft, PROMPT_COMPLETION))
    done = mockft.run_until_done(job["id"])
    assert done.status == "succeeded"
    text = mockft.openai().files.content(done.result_files[0]).text

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == captured["columns"]
    assert [int(row[0]) for row in rows[1:]] == list(range(1, len(rows)))
    assert all(float(row[2]) <= 1.0 for row in rows[1:] if row[2])


def test_a_chat_model_result_file_stays_base64(mockft: MockFT) -> None:
    """The other side of the row above: chat models' result files are base64
    (docs/fidelity.md, "Time, training and results")."""
    columns = capture("openai-cookbook/fine_tuned_classification.json")["result_file"]["columns"]
    done = mockft.run_until_done(_create(mockft)["id"])
    text = mockft.openai().files.content(done.result_files[0]).text
    assert base64.b64decode(text).decode().splitlines()[0] == ",".join(columns)


# -- forced tool calls and Structured Outputs ----------------------------------------------

MULTIPLY = {  # instructor's tool for `Multiply(a: int, b: int, result: int)`
    "type": "function",
    "function": {
        "name": "Multiply",
        "description": "Correctly extracted `Multiply` with all the required parameters",
        "parameters": {
            "properties": {
                "a": {"title": "A", "type": "integer"},
                "b": {"title": "B", "type": "integer"},
                "result": {"title": "Result", "type": "integer"},
            },
            "required": ["a", "b", "result"],
            "type": "object",
        },
    },
}
DSPY_OUTPUTS = {  # DSPy's JSONAdapter, for the signature "question -> answer"
    "type": "json_schema",
    "json_schema": {
        "name": "DSPyProgramOutputs",
        "strict": True,
        "schema": {
            "additionalProperties": False,
            "properties": {"answer": {"title": "Answer", "type": "string"}},
            "required": ["answer"],
            "title": "DSPyProgramOutputs",
            "type": "object",
        },
    },
}
QUESTION = [{"role": "user", "content": "Return `fn(123, 456)`"}]


def _chat(mockft: MockFT, **body: Any) -> dict[str, Any]:
    body = {"model": "gpt-4o-mini", "messages": QUESTION, **body}
    response = mockft.http_client().post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _finish_reasons() -> dict[str, dict[str, str]]:
    quoted: dict[str, dict[str, str]] = capture("issues/clients.json")["quotes"][
        "tool_choice_finish_reason"
    ]["finish_reason"]
    return quoted


def _assert_a_call_like_the_captured_one(message: dict[str, Any]) -> dict[str, Any]:
    """The shape of ruby-openai's tool-call answer (2024-03-26): content null, one call
    `call_` + 24 base62 characters, type function, arguments a JSON string."""
    captured = response_of("gpt-3_5-turbo_valid_tool_call_chat")["body"]["choices"][0]["message"]
    assert message["content"] is captured["content"] is None
    call, model_call = message["tool_calls"][0], captured["tool_calls"][0]
    assert call.keys() == model_call.keys() and call["type"] == model_call["type"]
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call["id"])
    assert len(call["id"]) == len(model_call["id"])
    arguments: dict[str, Any] = json.loads(call["function"]["arguments"])
    return arguments


def test_a_named_tool_choice_is_answered_with_a_call_of_that_tool(mockft: MockFT) -> None:
    """instructor's TOOLS mode names its tool in `tool_choice`; mockft answered with text
    and instructor retried until it gave up. The real API calls the tool and, for a named
    choice, ends with `finish_reason: "stop"` (vllm#25054, OpenAI's answers 2025-09)."""
    choice = {"type": "function", "function": {"name": "Multiply"}}
    answer = _chat(mockft, tools=[MULTIPLY], tool_choice=choice)["choices"][0]
    assert answer["finish_reason"] == _finish_reasons()["named"]["no_stream"]
    assert answer["message"]["tool_calls"][0]["function"]["name"] == "Multiply"
    arguments = _assert_a_call_like_the_captured_one(answer["message"])
    Draft202012Validator(MULTIPLY["function"]["parameters"]).validate(arguments)


def test_tool_choice_required_is_answered_with_a_call(mockft: MockFT) -> None:
    answer = _chat(mockft, tools=[MULTIPLY], tool_choice="required")["choices"][0]
    assert answer["finish_reason"] == _finish_reasons()["required"]["no_stream"]
    arguments = _assert_a_call_like_the_captured_one(answer["message"])
    Draft202012Validator(MULTIPLY["function"]["parameters"]).validate(arguments)


def test_a_streamed_forced_call_comes_as_tool_call_deltas(mockft: MockFT) -> None:
    choice = {"type": "function", "function": {"name": "Multiply"}}
    stream = mockft.openai().chat.completions.create(
        model="gpt-4o-mini",
        messages=QUESTION,
        tools=[MULTIPLY],
        tool_choice=choice,  # type: ignore[arg-type, list-item]
        stream=True,
    )
    chunks = [chunk.choices[0] for chunk in stream if chunk.choices]
    first = chunks[0].delta.tool_calls
    assert first is not None and first[0].function is not None
    assert (first[0].function.name, first[0].function.arguments) == ("Multiply", "")
    assert first[0].id is not None and first[0].id.startswith("call_")
    pieces = [c.delta.tool_calls[0].function.arguments for c in chunks[1:] if c.delta.tool_calls]
    arguments = json.loads("".join(p or "" for p in pieces))
    Draft202012Validator(MULTIPLY["function"]["parameters"]).validate(arguments)
    assert chunks[-1].finish_reason == _finish_reasons()["named"]["stream"]


def test_json_schema_response_format_answers_json_of_that_schema(mockft: MockFT) -> None:
    """DSPy's JSONAdapter asks for Structured Outputs; mockft answered prose and every
    teacher call failed to parse. The real API's answer is "valid JSON matching the
    supplied schema" (the announcement, quoted in Lambdua/openai4j#53, 2024-08-07)."""
    assert (
        "valid JSON matching the supplied schema"
        in (capture("issues/clients.json")["quotes"]["structured_outputs_guarantee"]["quote"])
    )
    answer = _chat(mockft, response_format=DSPY_OUTPUTS)["choices"][0]
    assert (answer["finish_reason"], answer["message"]["refusal"]) == ("stop", None)
    content = json.loads(answer["message"]["content"])
    Draft202012Validator(DSPY_OUTPUTS["json_schema"]["schema"]).validate(content)  # type: ignore[index]


def test_json_object_response_format_answers_a_json_object(mockft: MockFT) -> None:
    messages = [{"role": "user", "content": "Answer in JSON: what is 2 + 2?"}]
    answer = _chat(mockft, messages=messages, response_format={"type": "json_object"})
    assert isinstance(json.loads(answer["choices"][0]["message"]["content"]), dict)


# -- what a fine-tuned model answers to a prompt nobody trained -----------------------------


def test_a_fine_tuned_classifier_answers_an_unseen_prompt_with_a_trained_label(
    mockft: MockFT,
) -> None:
    """The cookbook's babbage-002 classifier (2024-01-05), asked a held-out email and a
    tweet it never saw, answers ` hockey`: one token, a label it was trained on, with
    `logprobs: 2` one dict of two tokens, the answer the likelier. mockft answered the
    unseen prompts with Faker words ('Wrong', 'Police')."""
    captured = capture("openai-cookbook/fine_tuned_classification.json")["completions_logprobs"]
    top = captured["top_logprobs"]
    labels = [json.loads(line)["completion"] for line in PROMPT_COMPLETION.read_text().splitlines()]
    job = _create(mockft, model="babbage-002", training_file=_upload(mockft, PROMPT_COMPLETION))
    model = mockft.run_until_done(job["id"]).fine_tuned_model
    client = mockft.openai()

    unseen = "Product: insulated steel water bottle, 1 litre\n\n###\n\n"
    answer = client.completions.create(
        model=model or "", prompt=unseen, max_tokens=1, temperature=0, logprobs=2
    )
    text = answer.choices[0].text
    assert any(label.startswith(text) for label in labels)
    found = answer.choices[0].logprobs
    assert found is not None and found.top_logprobs is not None
    assert len(found.top_logprobs) == len(top) and len(found.top_logprobs[0]) == len(top[0])
    best = max(found.top_logprobs[0].items(), key=lambda item: item[1])
    assert best[0] == text


def test_a_fine_tuned_chat_model_answers_an_unseen_prompt_in_its_trained_form(
    mockft: MockFT,
) -> None:
    """The cookbook's recipe model (gpt-4o-mini, 2024-07), asked a recipe it was not
    trained on, answers a JSON list of ingredients, the form of its training replies."""
    lines = TRAIN.read_text().splitlines()
    replies = {
        message["content"]
        for line in lines
        for message in json.loads(line)["messages"]
        if message["role"] == "assistant"
    }
    model = mockft.run_until_done(_create(mockft)["id"]).fine_tuned_model
    first_user = next(m["content"] for m in json.loads(lines[0])["messages"] if m["role"] == "user")
    reworded = first_user.rstrip("?.!") + ", please?"
    answer = mockft.openai().chat.completions.create(
        model=model or "", messages=[{"role": "user", "content": reworded}]
    )
    assert answer.choices[0].message.content in replies


# -- files -------------------------------------------------------------------------------


def test_a_filename_with_a_path_is_kept_whole(mockft: MockFT) -> None:
    """The openai 1.x CLI sends the path it was given as the multipart filename; the real
    API keeps the whole path as the file's name (openai-dotnet#308, 2024-12)."""
    quote = capture("issues/clients.json")["quotes"]["filename_with_a_path"]["quote"]
    assert "complete Path as a name" in quote
    path = "/work/clients/fixtures/train_chat.jsonl"
    uploaded = mockft.openai().files.create(file=(path, TRAIN.read_bytes()), purpose="fine-tune")
    assert uploaded.filename == path
    assert mockft.openai().files.retrieve(uploaded.id).filename == path
