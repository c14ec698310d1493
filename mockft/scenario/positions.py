"""Where each value of a TOML document starts: the line of every key path.

`tomllib` reads a document's values and refuses bad syntax with a line number, but keeps no
positions, so a value that parses and still makes no sense (a status that does not exist,
a step past the end) could not be pointed at. `tomlkit` keeps the text's layout but no
line numbers either. This module scans a document `tomllib` has accepted and records the
line at which each key, table, array of tables and array element begins, keyed by its
path as the parsed document has it: `("jobs", 2, "error", "code")`.

The scan trusts the document to be valid TOML (it runs after `tomllib`), so it only has to
know TOML's lexical shapes: strings of four kinds (which may hold anything, newlines
included), comments, bare / quoted / dotted keys, `[table]` and `[[array.of.tables]]`
headers, inline tables and arrays (which may span lines).
"""

from __future__ import annotations

from typing import Final

KeyPath = tuple[str | int, ...]

_BARE_KEY_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
)
_ESCAPES: Final = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    '"': '"',
    "\\": "\\",
    "e": "\x1b",
}


def key_lines(text: str) -> dict[KeyPath, int]:
    """The 1-based line of every key path of a valid TOML document."""
    return _Scanner(text).scan()


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of `path`, or of the closest enclosing path that has one."""
    for end in range(len(path), 0, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        # Arrays of tables by their resolved path: how many tables each holds so far.
        self.arrays: dict[KeyPath, int] = {}

    # -- the document -------------------------------------------------------------------

    def scan(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        while self._skip_blank():
            if self._peek() == "[":
                table = self._header()
            else:
                self._key_value(table)
        return self.lines

    def _header(self) -> KeyPath:
        line = self.line
        self.pos += 1
        array = self._peek() == "["
        if array:
            self.pos += 1
        keys = self._keys()
        self._skip_inline_space()
        self.pos += 2 if array else 1  # "]]" or "]"
        path = self._resolve(keys[:-1]) + (keys[-1],)
        if array:
            self._mark(path, line)
            index = self.arrays.get(path, 0)
            self.arrays[path] = index + 1
            path = (*path, index)
        self._mark(path, line)
        return path

    def _resolve(self, keys: list[str]) -> KeyPath:
        """A header's keys as a path: a key naming an array of tables means its last table."""
        path: KeyPath = ()
        for key in keys:
            path = (*path, key)
            count = self.arrays.get(path)
            if count:
                path = (*path, count - 1)
        return path

    def _key_value(self, table: KeyPath) -> None:
        line = self.line
        keys = self._keys()
        path = (*table, *keys)
        for end in range(len(table) + 1, len(path) + 1):  # a dotted key defines its tables
            self._mark(path[:end], line)
        self._skip_inline_space()
        self.pos += 1  # "="
        self._skip_inline_space()
        self._value(path)

    # -- keys ---------------------------------------------------------------------------

    def _keys(self) -> list[str]:
        keys = [self._key()]
        self._skip_inline_space()
        while self._peek() == ".":
            self.pos += 1
            self._skip_inline_space()
            keys.append(self._key())
            self._skip_inline_space()
        return keys

    def _key(self) -> str:
        self._skip_inline_space()
        char = self._peek()
        if char in ('"', "'"):
            return self._string()
        start = self.pos
        while self._peek() in _BARE_KEY_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    # -- values -------------------------------------------------------------------------

    def _value(self, path: KeyPath) -> None:
        self._mark(path, self.line)
        char = self._peek()
        if char in ('"', "'"):
            self._string()
        elif char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        else:  # a number, a boolean or a date-time: up to what ends a value
            while self._peek() not in ("", ",", "]", "}", "#", "\n", "\r"):
                self.pos += 1

    def _array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while True:
            self._skip_blank()
            if self._peek() == "]":
                self.pos += 1
                return
            self._value((*path, index))
            index += 1
            self._skip_blank()
            if self._peek() == ",":
                self.pos += 1

    def _inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while True:
            self._skip_blank()  # TOML 1.1 lets an inline table span lines
            if self._peek() == "}":
                self.pos += 1
                return
            self._key_value(path)
            self._skip_blank()
            if self._peek() == ",":
                self.pos += 1

    def _string(self) -> str:
        """A string's value (keys need it; values are only skipped), newlines counted."""
        quote = self.text[self.pos]
        multi = self.text.startswith(quote * 3, self.pos)
        self.pos += 3 if multi else 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if multi and self.text.startswith(quote * 3, self.pos):
                # up to two more quotes may close the string ('''a''''' is "a''")
                end = self.pos + 3
                while end < len(self.text) and self.text[end] == quote and end - self.pos < 5:
                    end += 1
                out.append(quote * (end - self.pos - 3))
                self.pos = end
                return "".join(out)
            if not multi and char == quote:
                self.pos += 1
                return "".join(out)
            if char == "\\" and quote == '"':
                out.append(self._escape())
                continue
            if char == "\n":
                self.line += 1
            out.append(char)
            self.pos += 1
        return "".join(out)

    def _escape(self) -> str:
        self.pos += 1
        char = self._peek()
        if char in ("u", "U"):
            size = 4 if char == "u" else 8
            digits = self.text[self.pos + 1 : self.pos + 1 + size]
            self.pos += 1 + size
            return chr(int(digits, 16))
        if char == "x":
            digits = self.text[self.pos + 1 : self.pos + 3]
            self.pos += 3
            return chr(int(digits, 16))
        if char in _ESCAPES:
            self.pos += 1
            return _ESCAPES[char]
        # a line-ending backslash: whitespace and newlines up to the next text are trimmed
        while self._peek() in (" ", "\t", "\r", "\n"):
            if self._peek() == "\n":
                self.line += 1
            self.pos += 1
        return ""

    # -- whitespace and comments ----------------------------------------------------------

    def _skip_inline_space(self) -> None:
        while self._peek() in (" ", "\t"):
            self.pos += 1

    def _skip_blank(self) -> bool:
        """Past whitespace, newlines and comments; False at the end of the text."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\n":
                self.line += 1
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
                continue
            elif char not in (" ", "\t", "\r"):
                return True
            self.pos += 1
        return False

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _mark(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)
