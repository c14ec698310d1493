"""Reading scenario files: TOML (or JSON, for the control API) in, a validated `Scenario`
with the line of every value out, or every problem found as `file:line: message`.

`tomllib` (`tomli` before Python 3.11) parses; a syntax error is reported at the line it
names. A document that parses is validated by the pydantic models of `model`, and each
problem is placed at the line `positions` found for its key. Several files load as one
scenario (`merge`): later files win.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from mockft.scenario import model as shapes
from mockft.scenario.positions import KeyPath, key_lines, line_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

TOML: Final = "toml"
JSON: Final = "json"
MAX_FILE_BYTES: Final = 64 * 1024 * 1024
MAX_PROBLEMS: Final = 100
_AT_LINE: Final = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END: Final = re.compile(r"\s*\(at end of document\)\s*$")

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.message}"


class ScenarioInvalid(Exception):
    """A scenario that cannot be loaded, with every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(self.text())

    def text(self, limit: int = MAX_PROBLEMS) -> str:
        shown = [str(p) for p in self.problems[:limit]]
        if len(self.problems) > limit:
            shown.append(f"... and {len(self.problems) - limit} more")
        return "\n".join(shown)


@dataclass(frozen=True)
class Document:
    """One scenario file as read: its name in messages, the directory its relative paths
    start from (None: it may not name files on disk), and where each value is."""

    source: str
    base: Path | None
    lines: dict[KeyPath, int] = field(default_factory=dict, hash=False, compare=False)

    def problem(self, path: KeyPath, message: str) -> Problem:
        return Problem(self.source, line_of(self.lines, path), message)


@dataclass(frozen=True)
class Origin:
    """Where a value of a merged scenario comes from."""

    document: Document
    path: KeyPath

    def problem(self, message: str, *more: str | int) -> Problem:
        full = (*self.path, *more)
        return self.document.problem(full, f"{dotted(full)}: {message}" if full else message)


@dataclass(frozen=True)
class Item(Generic[T]):
    spec: T
    origin: Origin


@dataclass
class Loaded:
    """One or more scenario files as one scenario (later files win)."""

    documents: list[Document] = field(default_factory=list)
    seed: int | None = None
    clock: shapes.ClockSpec | None = None
    clock_origin: Origin | None = None
    organizations: list[Item[shapes.OrganizationSpec]] = field(default_factory=list)
    models_added: list[Item[shapes.ModelSpec]] = field(default_factory=list)
    models_removed: list[Item[str]] = field(default_factory=list)
    files: list[Item[shapes.FileSpec]] = field(default_factory=list)
    jobs: list[Item[shapes.JobSpec]] = field(default_factory=list)
    outcomes: list[Item[shapes.OutcomeRule]] = field(default_factory=list)
    chaos: list[Item[shapes.ChaosRuleSpec]] = field(default_factory=list)
    answers: list[Item[shapes.AnswerRule]] = field(default_factory=list)
    permissions: list[Item[shapes.PermissionSpec]] = field(default_factory=list)
    limits: shapes.LimitsSpec | None = None
    id_sequence: int | None = None

    @property
    def sources(self) -> list[str]:
        return [d.source for d in self.documents]


# -- reading --------------------------------------------------------------------------------


def read_files(paths: Iterable[str | Path]) -> Loaded:
    """The scenario the files make together, in order (later files win); every problem of
    every file is raised at once."""
    problems: list[Problem] = []
    loaded = Loaded()
    for name in paths:
        path = Path(name)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                problems.append(Problem(str(path), None, f"larger than {MAX_FILE_BYTES} bytes"))
                continue
            raw = path.read_bytes()
        except OSError as exc:
            problems.append(Problem(str(path), None, f"cannot read it: {exc.strerror or exc}"))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            problems.append(Problem(str(path), line, "not UTF-8 text"))
            continue
        fmt = JSON if path.suffix.lower() == ".json" else TOML
        try:
            merge(loaded, parse(text, str(path), path.resolve().parent, fmt))
        except ScenarioInvalid as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioInvalid(problems)
    return loaded


_TOO_DEEP = "arrays or tables nested too deeply to read"


def read_text(text: str, source: str, fmt: str = TOML, base: Path | None = None) -> Loaded:
    loaded = Loaded()
    merge(loaded, parse(text, source, base, fmt))
    return loaded


def parse(
    text: str, source: str, base: Path | None, fmt: str = TOML
) -> tuple[Document, shapes.Scenario]:
    """One file's text, validated."""
    if fmt == JSON:
        try:
            data = json.loads(text)
        except ValueError as exc:
            line = getattr(exc, "lineno", None)
            raise ScenarioInvalid(
                [Problem(source, line, f"not JSON: {_json_reason(exc)}")]
            ) from None
        except RecursionError:
            raise ScenarioInvalid([Problem(source, None, _TOO_DEEP)]) from None
        if not isinstance(data, dict):
            raise ScenarioInvalid([Problem(source, None, "a scenario is a JSON object")])
        document = Document(source, base)
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioInvalid([_syntax_problem(source, exc, text)]) from None
        except RecursionError:
            raise ScenarioInvalid([Problem(source, None, _TOO_DEEP)]) from None
        document = Document(source, base, key_lines(text))
    try:
        return document, shapes.Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioInvalid(_problems(document, exc, data)) from None


def _syntax_problem(source: str, exc: ValueError, text: str) -> Problem:
    reason = str(exc.args[0]) if exc.args else str(exc)
    line = getattr(exc, "lineno", None)
    found = _AT_LINE.search(reason)
    if found is not None:
        line = line or int(found.group(1))
        reason = f"{reason[: found.start()]} (column {found.group(2)})"
    elif _AT_END.search(reason):
        reason = _AT_END.sub("", reason) + " (at the end of the file)"
        line = line or text.count("\n") + 1
    return Problem(source, line, f"not valid TOML: {reason}")


def _json_reason(exc: ValueError) -> str:
    return str(getattr(exc, "msg", exc))


# -- pydantic's problems, where they are ---------------------------------------------------


def _problems(document: Document, exc: ValidationError, data: dict[str, Any]) -> list[Problem]:
    seen: dict[tuple[KeyPath, str], None] = {}
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        path = _data_path(error["loc"], data)
        message = _message(error, path)
        key = (path, message)
        if key in seen:
            continue
        seen[key] = None
        about_key = error["type"] in ("extra_forbidden", "missing")
        where = dotted(path[:-1] if about_key else path)
        problems.append(document.problem(path, f"{where}: {message}" if where else message))
    return sorted(problems, key=lambda p: p.line or 0)


def _data_path(loc: Sequence[str | int], data: object) -> KeyPath:
    """pydantic's location of a problem as a path into the document: the steps that name a
    key or an index of the data (a union's branch names, e.g., are left out). The last
    step of a missing key is kept."""
    path: list[str | int] = []
    node: object = data
    for step in loc:
        if isinstance(node, dict) and isinstance(step, str):
            path.append(step)
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            path.append(step)
            node = node[step]
    return tuple(path)


def _message(error: Any, path: KeyPath) -> str:
    kind, message = error["type"], str(error["msg"])
    if kind == "extra_forbidden" and path and isinstance(path[-1], str):
        return f"unknown key '{path[-1]}'{_suggestion(path[-1])}"
    if kind == "missing" and path and isinstance(path[-1], str):
        return f"missing key '{path[-1]}'"
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _suggestion(key: str) -> str:
    # (a key of another table is unknown here: never suggest the key itself)
    close = difflib.get_close_matches(key, _known_keys() - {key}, n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _known_keys() -> set[str]:
    names: set[str] = set()
    for value in vars(shapes).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            names.update(value.model_fields)
    return names


def dotted(path: KeyPath) -> str:
    """`("jobs", 2, "error", "code")` as `jobs[2].error.code`."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            key = step if re.fullmatch(r"[A-Za-z0-9_-]+", step) else json.dumps(step)
            out += f".{key}" if out else key
    return out


# -- several files as one -----------------------------------------------------------------


def merge(loaded: Loaded, parsed: tuple[Document, shapes.Scenario]) -> Loaded:
    """Add one file to the scenario so far: a later file's clock fields, seed and files of
    the same name win; its outcome rules and answers come first (a rule of a later file
    overrides one of an earlier file); its chaos rules come after; the rest adds up."""
    document, scenario = parsed
    loaded.documents.append(document)

    def at(*path: str | int) -> Origin:
        return Origin(document, path)

    if scenario.seed is not None:
        loaded.seed = scenario.seed
    if scenario.id_sequence is not None:
        loaded.id_sequence = max(loaded.id_sequence or 0, scenario.id_sequence)
    if scenario.clock is not None:
        before = loaded.clock.model_dump(exclude_none=True) if loaded.clock else {}
        later = scenario.clock.model_dump(exclude_none=True)
        loaded.clock = shapes.ClockSpec.model_validate({**before, **later})
        loaded.clock_origin = at("clock")
    if scenario.limits is not None:
        before = loaded.limits.model_dump(exclude_none=True) if loaded.limits else {}
        later = scenario.limits.model_dump(exclude_none=True)
        loaded.limits = shapes.LimitsSpec.model_validate({**before, **later})
    loaded.organizations += [
        Item(o, at("organizations", i)) for i, o in enumerate(scenario.organizations)
    ]
    if scenario.models is not None:
        loaded.models_removed += [
            Item(m, at("models", "remove", i)) for i, m in enumerate(scenario.models.remove)
        ]
        loaded.models_added += [
            Item(m, at("models", "add", i)) for i, m in enumerate(scenario.models.add)
        ]
    files = [Item(f, at("files", i)) for i, f in enumerate(scenario.files)]
    replaced = {(f.spec.org, f.spec.name) for f in files}
    loaded.files = [f for f in loaded.files if (f.spec.org, f.spec.name) not in replaced] + files
    jobs = [Item(j, at("jobs", i)) for i, j in enumerate(scenario.jobs)]
    named = {j.spec.id for j in jobs if j.spec.id is not None}
    loaded.jobs = [j for j in loaded.jobs if j.spec.id is None or j.spec.id not in named] + jobs
    loaded.outcomes = [
        Item(r, at("outcomes", i)) for i, r in enumerate(scenario.outcomes)
    ] + loaded.outcomes
    loaded.chaos += [Item(r, at("chaos", i)) for i, r in enumerate(scenario.chaos)]
    loaded.answers = [
        Item(a, at("answers", i)) for i, a in enumerate(scenario.answers)
    ] + loaded.answers
    loaded.permissions += [
        Item(p, at("permissions", i)) for i, p in enumerate(scenario.permissions)
    ]
    return loaded
