"""Abuse of Structured Outputs and forced tool calls: a schema that cannot end, or whose
keywords are not numbers or are absurd, is answered (with a value as close to the schema
as a finite answer gets), never with a 500, a stalled server or gigabytes of memory."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, Server, raw_http


def _json_schema(schema: Any) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


SCHEMAS = {
    "anyOf of itself": {"anyOf": [{"$ref": "#"}]},
    "allOf of itself": {"allOf": [{"$ref": "#"}]},
    "a required property of its own type": {
        "type": "object",
        "properties": {"next": {"$ref": "#"}},
        "required": ["next"],
    },
    "minItems not a number": {"type": "array", "items": {"type": "string"}, "minItems": "x"},
    "minItems of a hundred million": {"type": "array", "minItems": 100_000_000},
    "arrays of arrays": {
        "type": "array",
        "minItems": 60,
        "items": {"type": "array", "minItems": 60, "items": {"type": "array", "minItems": 60}},
    },
    "minimum not a number": {"type": "number", "minimum": "x"},
    "minimum beyond any float": {"type": "integer", "minimum": 10**400},
    "minimum a list": {"type": "integer", "minimum": [1]},
    "minLength of a hundred million": {"type": "string", "minLength": 100_000_000},
    "minLength not a number": {"type": "string", "minLength": "a"},
}


@pytest.fixture
def http(server: Server) -> httpx.Client:
    return raw_http(server, API_KEY)


def _chat(http: httpx.Client, **extra: Any) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **extra}
    return http.post("/chat/completions", json=body)


@pytest.mark.parametrize("schema", SCHEMAS.values(), ids=SCHEMAS.keys())
def test_hostile_response_schemas_are_answered(http: httpx.Client, schema: Any) -> None:
    response = _chat(http, response_format=_json_schema(schema))
    assert response.status_code == 200, response.text
    assert len(response.content) < 1_000_000
    json.loads(response.json()["choices"][0]["message"]["content"])  # JSON, as promised


def test_a_tool_whose_arguments_cannot_end_is_called(http: httpx.Client) -> None:
    parameters = SCHEMAS["a required property of its own type"]
    tools = [{"type": "function", "function": {"name": "walk", "parameters": parameters}}]
    response = _chat(http, tools=tools, tool_choice="required")
    assert response.status_code == 200, response.text
    call = response.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "walk"
    json.loads(call["function"]["arguments"])


def test_ordinary_schemas_keep_their_bounds(http: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            "score": {"type": "integer", "minimum": 5, "maximum": 7},
            "code": {"type": "string", "minLength": 30, "maxLength": 40},
        },
        "required": ["tags", "score", "code"],
    }
    response = _chat(http, response_format=_json_schema(schema))
    value = json.loads(response.json()["choices"][0]["message"]["content"])
    assert len(value["tags"]) == 2
    assert 5 <= value["score"] <= 7
    assert 30 <= len(value["code"]) <= 40
