"""Writing TOML (the standard library reads it, nothing in it writes it): the documents
`mockft scenario export` makes, which are dicts of strings, numbers, booleans, lists and
dicts. Tables are written as tables (`[a.b]`, `[[a.c]]`) so that the file reads as one
written by hand; a long text with newlines (a file's content) as a multi-line string."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

_BARE_KEY: Final = re.compile(r"^[A-Za-z0-9_-]+$")
# What a basic string must escape beyond JSON's escapes: DEL.
_DEL: Final = "\x7f"
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def dumps(document: Mapping[str, Any]) -> str:
    out: list[str] = []
    _table(out, (), document, array=False)
    return "\n".join(out).strip() + "\n"


def _table(out: list[str], path: tuple[str, ...], table: Mapping[str, Any], *, array: bool) -> None:
    plain = {
        k: v for k, v in table.items() if v is not None and not _is_table(v) and not _is_tables(v)
    }
    tables = {k: v for k, v in table.items() if _is_table(v)}
    arrays = {k: v for k, v in table.items() if _is_tables(v)}
    if path and (plain or array or not (tables or arrays)):
        header = ".".join(_key(k) for k in path)
        out.append("")
        out.append(f"[[{header}]]" if array else f"[{header}]")
    for key, value in plain.items():
        out.append(f"{_key(key)} = {_value(value)}")
    for key, value in tables.items():
        _table(out, (*path, key), value, array=False)
    for key, values in arrays.items():
        for value in values:
            _table(out, (*path, key), value, array=True)


def _is_table(value: object) -> bool:
    return isinstance(value, Mapping)


def _is_tables(value: object) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and bool(value)
        and all(isinstance(v, Mapping) for v in value)
    )


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _multiline(value) if "\n" in value and len(value) > 80 else _string(value)
    if isinstance(value, Mapping):
        items = (f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + ", ".join(items) + " }" if value else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _string(text: str) -> str:
    """A basic string: JSON's escapes are TOML's, and DEL is escaped too."""
    return json.dumps(text, ensure_ascii=False).replace(_DEL, "\\u007f")


def _multiline(text: str) -> str:
    """A multi-line basic string: backslashes, control characters (but newlines and tabs),
    runs of three quotes and a closing quote escaped; the newline after the opening
    delimiter is not part of the text."""
    body = text.replace("\\", "\\\\").replace("\r", "\\r")
    body = _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", body)
    body = body.replace('"""', '""\\"')
    if body.endswith('"'):
        body = body[:-1] + '\\"'
    return f'"""\n{body}"""'
