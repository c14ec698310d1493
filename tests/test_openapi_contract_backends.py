"""The contract check's two validators agree: whatever the compiled `jsonschema_rs` accepts at
once, `jsonschema` (whose errors make the reports) accepts too, so taking `jsonschema_rs`'s
yes as the verdict changes no verdict.

The corpus: every JSON body recorded from the real API (ruby-openai's cassettes), checked
against its operation's response schema, and variants of each (its lists cut to three
items): every value replaced by null, a boolean, numbers, strings, an empty or a small list
or object; every key removed; an unknown key added to every object; lists grown by an item.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tests.openapi_contract as contract

RECORDED = Path(__file__).resolve().parent / "data" / "captures" / "ruby-openai"
REPLACEMENTS: tuple[Any, ...] = (
    None, True, 0, -1, 2.5, 10**20, "", "x", "succeeded", [], {}, [None], {"x": 1},
)  # fmt: skip
Location = tuple[str | int, ...]


def _recorded_checks() -> list[tuple[str, str, Any]]:
    """(spec file, schema pointer, body) of each validation the recorded bodies make."""
    made: list[tuple[str, str, Any]] = []
    real = contract._conforms_at_once

    def recording(spec_file: str, pointer: str, instance: Any) -> bool:
        made.append((spec_file, pointer, instance))
        return real(spec_file, pointer, instance)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(contract, "_conforms_at_once", recording)
        for path in sorted(RECORDED.glob("*.json")):
            for interaction in json.loads(path.read_text()):
                request, response = interaction["request"], interaction["response"]
                if isinstance(response["body"], (dict, list)):
                    contract.response_violations(
                        request["method"], request["path"], response["status"], response["body"]
                    )
    return made


def _locations(node: Any, at: Location = ()) -> Iterator[Location]:
    yield at
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _locations(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _locations(value, (*at, index))


def _replaced(root: Any, at: Location, value: Any = None, *, remove: bool = False) -> Any:
    if not at:
        return value
    copied = json.loads(json.dumps(root))
    parent = copied
    for step in at[:-1]:
        parent = parent[step]
    if remove:
        del parent[at[-1]]
    else:
        parent[at[-1]] = value
    return copied


def _shortened(node: Any) -> Any:
    """The body with each list cut to its first three items (what the variants vary)."""
    if isinstance(node, dict):
        return {key: _shortened(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_shortened(value) for value in node[:3]]
    return node


def _variants(body: Any) -> Iterator[Any]:
    for at in _locations(body):
        for value in REPLACEMENTS:
            yield _replaced(body, at, value)
        if at:
            yield _replaced(body, at, remove=True)
        node = body
        for step in at:
            node = node[step]
        if isinstance(node, dict):
            yield _replaced(body, at, {**node, "unknown_key": 1})
        elif isinstance(node, list) and node:
            yield _replaced(body, at, [*node, node[0]])


def test_what_jsonschema_rs_accepts_jsonschema_accepts() -> None:
    checks = _recorded_checks()
    assert len({pointer for _, pointer, _ in checks}) >= 10  # many schemas, not one
    accepted = rejected = 0
    disagreements = []
    seen: set[tuple[str, str]] = set()
    for spec_file, pointer, body in checks:
        short = _shortened(body)
        for variant in [body, short, *_variants(short)]:
            key = (pointer, json.dumps(variant, sort_keys=True))
            if key in seen:
                continue
            seen.add(key)
            if not contract._conforms_at_once(spec_file, pointer, variant):
                rejected += 1
                continue
            accepted += 1
            errors = list(contract._validator(spec_file, pointer).iter_errors(variant))
            if errors:
                disagreements.append(f"{pointer}: {errors[0].message} in {variant!r:.300}")
    assert not disagreements, "\n".join(disagreements[:10])
    # not vacuous: plenty of both
    assert accepted >= 500 and rejected >= 2000, (accepted, rejected)


def test_anything_but_plain_json_goes_to_jsonschema() -> None:
    """A tuple is an array to jsonschema_rs but not to jsonschema: no verdict at once."""
    spec_file = str(contract.spec_path())
    pointer = "/components/schemas/ListModelsResponse"
    plain = {"object": "list", "data": []}
    assert contract._conforms_at_once(spec_file, pointer, plain)
    assert not contract._conforms_at_once(spec_file, pointer, {**plain, "data": ()})
    assert contract.schema_violations("ListModelsResponse", {**plain, "data": ()}) != []
    assert not contract._conforms_at_once(spec_file, pointer, {"object": "\ud800", "data": []})
