"""mockft.structured: the form a chat request asks for, and seeded values of a JSON schema;
and a fine-tuned model that learned to call a tool calling it with its trained arguments."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mockft import structured
from mockft.pytest_plugin import MockFT

PERSON = {  # what pydantic writes for a model with a nested model, an enum and an Optional
    "$defs": {
        "Address": {
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city", "zip"],
            "type": "object",
            "additionalProperties": False,
        },
        "Role": {"enum": ["admin", "user"], "type": "string"},
    },
    "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 12},
        "age": {"type": "integer", "minimum": 18, "maximum": 99},
        "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "role": {"$ref": "#/$defs/Role"},
        "address": {"$ref": "#/$defs/Address"},
        "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 4},
        "active": {"type": "boolean"},
        "kind": {"const": "person"},
        "joined": {"type": "string", "format": "date-time"},
    },
    "required": ["name", "age", "score", "role", "address", "nickname", "tags", "active"],
    "type": "object",
    "additionalProperties": False,
}
TREE = {  # recursive: must end
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
            "required": ["label", "children"],
        }
    },
    "$ref": "#/$defs/Node",
}


@pytest.mark.parametrize("schema", [PERSON, TREE, {"type": ["string", "null"]}, {}])
@pytest.mark.parametrize("seed", range(20))
def test_an_instance_is_valid_against_its_schema(schema: dict[str, Any], seed: int) -> None:
    value = structured.instance(schema, random.Random(seed))
    Draft202012Validator(schema).validate(value)


def test_the_same_seed_gives_the_same_value() -> None:
    values = {json.dumps(structured.instance(PERSON, random.Random(7))) for _ in range(3)}
    assert len(values) == 1
    assert json.dumps(structured.instance(PERSON, random.Random(8))) not in values


def test_what_a_request_asks_for() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    named = {"type": "function", "function": {"name": "f"}}
    assert structured.requested({}) is None
    assert structured.requested({"tools": [tool], "tool_choice": "none"}) is None
    asked = structured.requested({"tools": [tool], "tool_choice": named})
    assert isinstance(asked, structured.ToolCalls) and asked.choice == structured.NAMED
    asked = structured.requested({"tools": [tool], "tool_choice": "required"})
    assert isinstance(asked, structured.ToolCalls) and asked.choice == structured.REQUIRED
    asked = structured.requested({"tools": [tool]})
    assert isinstance(asked, structured.ToolCalls) and asked.choice == structured.AUTO
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": PERSON}}
    assert structured.requested({"response_format": schema}) == structured.JsonSchema(PERSON)
    json_object = {"response_format": {"type": "json_object"}}
    assert structured.requested(json_object) == structured.JsonObject()
    assert structured.requested({"response_format": {"type": "text"}}) is None


def _example(a: int, b: int, *, legacy: bool) -> str:
    """An example as instructor's distillation writes it (legacy `function_call`), or with
    `tool_calls`."""
    arguments = json.dumps({"a": a, "b": b, "result": a * b}, indent=2)
    call: dict[str, Any] = {"name": "Multiply", "arguments": arguments}
    reply: dict[str, Any] = {"role": "assistant", "function_call": call}
    if not legacy:
        tool_call = {"id": f"call_{a}", "type": "function", "function": call}
        reply = {"role": "assistant", "content": None, "tool_calls": [tool_call]}
    messages = [
        {"role": "system", "content": "Predict the results of this function."},
        {"role": "user", "content": f"Return `fn({a}, {b})`"},
        reply,
    ]
    example: dict[str, Any] = {"messages": messages}
    if legacy:
        example["functions"] = [{"name": "Multiply", "parameters": MULTIPLY_PARAMETERS}]
    else:
        example["tools"] = [{"type": "function", "function": example_function()}]
    return json.dumps(example)


MULTIPLY_PARAMETERS = {
    "type": "object",
    "properties": {
        "a": {"type": "integer"},
        "b": {"type": "integer"},
        "result": {"type": "integer"},
    },
    "required": ["a", "b", "result"],
}


def example_function() -> dict[str, Any]:
    return {"name": "Multiply", "parameters": MULTIPLY_PARAMETERS}


@pytest.mark.parametrize("legacy", [True, False], ids=["function_call", "tool_calls"])
def test_a_model_that_learned_a_call_makes_it_with_its_trained_arguments(
    mockft: MockFT, legacy: bool
) -> None:
    client = mockft.openai()
    lines = [_example(100 + i, 200 + i, legacy=legacy) for i in range(10)]
    training = client.files.create(
        file=("calls.jsonl", "\n".join(lines).encode()), purpose="fine-tune"
    )
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
    done = mockft.run_until_done(job.id)
    assert done.status == "succeeded", done.error
    tool = {"type": "function", "function": example_function()}
    http = mockft.http_client()

    def ask(content: str, **body: Any) -> dict[str, Any]:
        messages = [{"role": "user", "content": content}]
        request = {"model": done.fine_tuned_model, "messages": messages, **body}
        answer: dict[str, Any] = http.post("/v1/chat/completions", json=request).json()
        return answer["choices"][0]

    named = {"type": "function", "function": {"name": "Multiply"}}
    trained = ask("Return `fn(103, 203)`", tools=[tool], tool_choice=named)
    arguments = trained["message"]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(arguments) == {"a": 103, "b": 203, "result": 103 * 203}
    # offered the tool without being forced, the model still makes the call it learned
    auto = ask("Return `fn(103, 203)`", tools=[tool])
    assert auto["finish_reason"] == "tool_calls"
    assert auto["message"]["tool_calls"][0]["function"]["arguments"] == arguments
    # not offered the tool, or asked something else, it writes text
    assert isinstance(ask("Return `fn(103, 203)`")["message"]["content"], str)
    assert ask("Hello", tools=[tool])["message"].get("tool_calls") is None
