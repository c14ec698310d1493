"""A training file's first examples as chat bubbles. Pure: lines of JSON in, bubbles out.

Every format a fine-tuning file may hold is shown as a conversation: chat (`messages`,
`weight: 0` turns marked as not trained on, tool calls named), preference pairs (the input,
then the preferred and the non-preferred reply), and prompt/completion pairs. A line that is
not a JSON object is shown as what it is, so a broken file is visible too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mockft import validation

SHOWN_EXAMPLES = 5
MAX_BUBBLE_CHARS = 2_000
PREFERENCE_NOTES = (("preferred_output", "preferred"), ("non_preferred_output", "not preferred"))
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass(frozen=True)
class Bubble:
    role: str
    text: str
    note: str = ""
    """What else the turn says: not trained on, a tool call, preferred or not."""


@dataclass(frozen=True)
class Example:
    line: int
    bubbles: tuple[Bubble, ...] = ()
    problem: str = ""
    extra: tuple[str, ...] = field(default=())
    """Top-level keys beside the conversation (tools, grader fields, ...)."""
    format: str | None = None
    """The format its keys say it is written in (validation's names)."""


def first_examples(lines: Iterable[bytes | None], count: int = SHOWN_EXAMPLES) -> list[Example]:
    """The first `count` non-blank lines as examples (a line too long to read is None)."""
    shown: list[Example] = []
    for number, line in enumerate(lines, start=1):
        if len(shown) >= count:
            break
        if line is None:
            shown.append(Example(number, problem="This line is too long to show."))
            continue
        if not line.strip():
            continue
        shown.append(example(number, line))
    return shown


def example(number: int, line: bytes) -> Example:
    try:
        value = json.loads(line)
    except ValueError:
        text = line[:80].decode("utf-8", "replace")
        return Example(number, problem=f"Not JSON: {text}")
    if not isinstance(value, dict):
        return Example(number, problem=f"Not a JSON object: a {type(value).__name__}.")
    return Example(
        number, tuple(bubbles(value)), extra=_extra(value), format=validation.format_of(value)
    )


def bubbles(value: Mapping[str, Any]) -> list[Bubble]:
    kind = validation.format_of(value)
    if kind == validation.FORMAT_CHAT:
        return _messages(value["messages"])
    if kind == validation.FORMAT_DPO:
        source = value.get("input")
        turns = _messages(source.get("messages") if isinstance(source, Mapping) else None)
        for key, note in PREFERENCE_NOTES:
            turns += [
                Bubble(b.role, b.text, _join(note, b.note)) for b in _messages(value.get(key))
            ]
        return turns
    if kind == validation.FORMAT_PROMPT_COMPLETION:
        return [
            Bubble("user", _text(value.get("prompt")), "prompt"),
            Bubble("assistant", _text(value.get("completion")), "completion"),
        ]
    return []


KNOWN_KEYS = frozenset({"messages", *validation.DPO_KEYS, *validation.PROMPT_COMPLETION_KEYS})


def _extra(value: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(key for key in value if key not in KNOWN_KEYS))


def _messages(messages: object) -> list[Bubble]:
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
        return [Bubble("note", "", "no list of messages")]
    out = []
    for message in messages:
        if not isinstance(message, Mapping):
            out.append(Bubble("note", _text(message), "not a message object"))
            continue
        role = message.get("role")
        role_text = role if isinstance(role, str) and role in ROLES else "note"
        notes = []
        if role_text == "note":
            notes.append(f"role {json.dumps(role)}")
        if message.get("weight") == 0:
            notes.append("not trained on (weight 0)")
        calls = message.get("tool_calls") or []
        if "function_call" in message:
            calls = [message["function_call"]]
        for call in calls if isinstance(calls, Sequence) else ():
            notes.append("calls " + _call_name(call))
        out.append(Bubble(role_text, _text(message.get("content")), ", ".join(notes)))
    return out


def _call_name(call: object) -> str:
    if isinstance(call, Mapping):
        function = call.get("function", call)
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return f"{function['name']}()"
    return "a tool"


def _text(content: object) -> str:
    """A message's content as text: strings as they are, text parts joined, other parts
    named."""
    if content is None:
        return ""
    if isinstance(content, str):
        text = content
    elif isinstance(content, Sequence) and not isinstance(content, (str, bytes)):
        pieces = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                pieces.append(part["text"])
            elif isinstance(part, Mapping):
                pieces.append(f"[{part.get('type', 'part')}]")
            else:
                pieces.append(json.dumps(part))
        text = "\n".join(pieces)
    else:
        text = json.dumps(content)
    if len(text) > MAX_BUBBLE_CHARS:
        return text[:MAX_BUBBLE_CHARS] + " …"
    return text


def _join(*notes: str) -> str:
    return ", ".join(n for n in notes if n)
