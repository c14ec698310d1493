"""PURE: what a chat request asks the answer to be, and values that fit a JSON schema.

The real API guarantees some answers' form whatever the model would have said: a request
that names a tool in ``tool_choice`` (or says ``"required"``) is answered with a call of
that tool, and ``response_format`` ``json_schema`` (Structured Outputs) or
``json_object`` with JSON of that form. Clients rely on it (instructor's tool calls,
DSPy's JSON adapter), so mockft keeps the promise with seeded values: ``instance`` writes a
value of a schema from a ``random.Random``, the same seed giving the same value.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

NAMED: Final = "named"  # tool_choice names one function
REQUIRED: Final = "required"  # tool_choice "required": some tool must be called
AUTO: Final = "auto"  # tools offered, the model decides
MAX_DEPTH: Final = 6  # deeper than this, optional parts are left out and arrays kept short
_GIVE_UP: Final = 4 * MAX_DEPTH  # a schema that cannot end (a required recursion) ends here
_MAX_ITEMS: Final = 64  # at most this many items in an array, whatever minItems asks
_MAX_LENGTH: Final = 4_096  # at most this many characters in a string, whatever minLength asks
_MAX_NODES: Final = 10_000  # values written for one answer; then what is left is null
_MAX_BOUND: Final = 1e15  # numbers' bounds are clamped to +/- this
_WORDS: Final = (
    "alpha bravo delta echo harbor maple river stone cedar amber coral meadow summit "
    "lantern orbit pixel quartz signal timber vector willow"
).split()
_FORMATS: Final = {
    "date-time": "2024-07-18T12:00:00Z",
    "date": "2024-07-18",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
}


@dataclass(frozen=True)
class Tool:
    name: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class ToolCalls:
    """The answer must call a tool: ``tools`` are the ones offered, ``choice`` says how
    (``NAMED``: only ``tools[0]``; ``REQUIRED``; ``AUTO``: only if the model learned to)."""

    tools: tuple[Tool, ...]
    choice: str


@dataclass(frozen=True)
class JsonSchema:
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class JsonObject:
    pass


Form = ToolCalls | JsonSchema | JsonObject


def requested(extra: Mapping[str, Any]) -> Form | None:
    """The form a chat request's extra arguments (``tools``, ``tool_choice``,
    ``response_format``) ask for; None for free text."""
    tools = tuple(_tools(extra.get("tools")))
    choice = extra.get("tool_choice")
    if tools and choice != "none":
        if isinstance(choice, Mapping):
            function = choice.get("function")
            name = function.get("name") if isinstance(function, Mapping) else None
            named = [tool for tool in tools if tool.name == name]
            if named:
                return ToolCalls((named[0],), NAMED)
        elif choice == REQUIRED:
            return ToolCalls(tools, REQUIRED)
        return ToolCalls(tools, AUTO)
    response_format = extra.get("response_format")
    if isinstance(response_format, Mapping):
        kind = response_format.get("type")
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, Mapping) else None
            return JsonSchema(schema if isinstance(schema, Mapping) else {"type": "object"})
        if kind == "json_object":
            return JsonObject()
    return None


def _tools(value: Any) -> list[Tool]:
    found = []
    for tool in value if isinstance(value, list) else []:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            parameters = function.get("parameters")
            found.append(
                Tool(function["name"], parameters if isinstance(parameters, Mapping) else {})
            )
    return found


def instance(
    schema: Mapping[str, Any],
    rng: random.Random,
    text: Callable[[random.Random], str] | None = None,
) -> Any:
    """A value valid against ``schema`` (the subset Structured Outputs and tool parameters
    use: types, ``properties``/``required``, ``items``, ``enum``, ``const``, ``anyOf``,
    ``$ref`` to ``$defs``, bounds and string formats), drawn from ``rng``; ``text`` writes a
    free string (a word or two by default)."""
    return _Writer(schema, rng, text or _phrase).value(schema, 0)


def _phrase(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))


class _Writer:
    def __init__(
        self, root: Mapping[str, Any], rng: random.Random, text: Callable[[random.Random], str]
    ) -> None:
        self.root, self.rng, self.text = root, rng, text
        self.nodes = 0

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while isinstance(schema.get("$ref"), str) and seen < 32:
            target: Any = self.root
            for part in schema["$ref"].removeprefix("#").strip("/").split("/"):
                target = target.get(part, {}) if part and isinstance(target, Mapping) else target
            schema, seen = target if isinstance(target, Mapping) else {}, seen + 1
        return schema

    def value(self, schema: Mapping[str, Any], depth: int) -> Any:
        # A schema that cannot end (`{"anyOf": [{"$ref": "#"}]}`, a required property of
        # the root's type) or that multiplies (arrays of arrays) stops here, with null.
        self.nodes += 1
        if depth > _GIVE_UP + 2 or self.nodes > _MAX_NODES:
            return None
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                usable = [o for o in options if isinstance(o, Mapping)]
                if depth >= MAX_DEPTH:  # prefer a branch that ends the recursion
                    usable.sort(key=lambda o: self.resolve(o).get("type") != "null")
                    return self.value(usable[0], depth + 1)
                return self.value(self.rng.choice(usable), depth + 1) if usable else None
        if isinstance(schema.get("allOf"), list):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                if isinstance(part, Mapping):
                    merged.update(self.resolve(part))
            return self.value(merged, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"] or ["null"]
            kind = kinds[0]
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        return self._typed(str(kind), schema, depth)

    def _typed(self, kind: str, schema: Mapping[str, Any], depth: int) -> Any:
        if kind == "object":
            properties = schema.get("properties")
            properties = properties if isinstance(properties, Mapping) else {}
            required = schema.get("required")
            needed = set(required) if isinstance(required, list) else set()
            return {
                name: self.value(sub if isinstance(sub, Mapping) else {}, depth + 1)
                for name, sub in properties.items()
                if name in needed or depth < MAX_DEPTH
            }
        if kind == "array":
            low = _count(schema.get("minItems"), 1 if depth < MAX_DEPTH else 0, _MAX_ITEMS)
            high = _count(schema.get("maxItems"), max(low, 3), _MAX_ITEMS)
            count = self.rng.randint(low, max(low, min(high, low + 2)))
            if depth >= MAX_DEPTH or depth > _GIVE_UP:  # as few as allowed, then none
                count = low if depth <= _GIVE_UP else 0
            items = schema.get("items")
            items = items if isinstance(items, Mapping) else {}
            return [self.value(items, depth + 1) for _ in range(count)]
        if kind in ("integer", "number"):
            bottom, top = self._bounds(schema, integral=kind == "integer")
            if kind == "integer":
                return self.rng.randint(int(bottom), int(top))
            return round(self.rng.uniform(bottom, top), 2)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(schema)

    def _bounds(self, schema: Mapping[str, Any], *, integral: bool) -> tuple[float, float]:
        step = 1 if integral else 0.01
        low = _number(schema.get("minimum"), 0.0)
        high = _number(schema.get("maximum"), low + 100)
        if _is_number(schema.get("exclusiveMinimum")):
            low = _number(schema["exclusiveMinimum"], low) + step
        if _is_number(schema.get("exclusiveMaximum")):
            high = _number(schema["exclusiveMaximum"], high) - step
        if integral:
            low, high = float(int(-(-low // 1))), float(int(high // 1))
        return low, max(low, high)

    def _string(self, schema: Mapping[str, Any]) -> str:
        fixed = _FORMATS.get(str(schema.get("format")))
        if fixed is not None:
            return fixed
        value = self.text(self.rng)
        low = _count(schema.get("minLength"), 0, _MAX_LENGTH)
        high = schema.get("maxLength")
        parts = [value]
        while len(value) < low:
            parts.append(self.text(self.rng))
            value = " ".join(parts)
        if _is_number(high):
            value = value[: _count(high, len(value), len(value))]
        return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, default: float) -> float:
    """A schema's bound as a finite float within +/- `_MAX_BOUND` (`default` if it is not a
    number): a bound of 10**400 or a string must not end the request in a 500."""
    if not _is_number(value):
        return default
    try:
        number = float(value)
    except OverflowError:
        number = _MAX_BOUND if value > 0 else -_MAX_BOUND
    if number != number:  # NaN
        return default
    return max(-_MAX_BOUND, min(_MAX_BOUND, number))


def _count(value: Any, default: int, most: int) -> int:
    """A schema's count (minItems, maxLength, ...) as an int in [0, most]."""
    if not _is_number(value):
        return min(default, most)
    return max(0, min(most, int(_number(value, default))))
