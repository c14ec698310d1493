"""Re-vendor the part of OpenAI's OpenAPI description that mockft serves, and say what changed.

    python -m tests.refresh_spec PATH/TO/openapi.json [--commit SHA] [--check]

The tests validate against ``tests/data/openai-openapi/openapi.json``: the paths of the API
families mockft serves (or is about to), plus every component they reference, transitively.
Nothing else is changed: operations and schemas are copied as they are upstream, so a later
copy differs from this one only where upstream changed. The pruned file, upstream's LICENSE
(when it lies beside PATH) and a SOURCE.md naming the upstream commit are written to
``tests/data/openai-openapi/``; then the paths and components added, removed and changed are
printed. ``--check`` prints the same report and writes nothing (exit 1 if anything would
change).

The upstream commit is ``--commit``, else the ``Commit:`` line of a SOURCE.md beside PATH.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

VENDORED: Final = Path(__file__).resolve().parent / "data" / "openai-openapi"
SPEC_FILE: Final = "openapi.json"

# The API families mockft serves or is about to serve: every path equal to one of these or
# below it ("/files" keeps "/files/{file_id}/content"; "/completions" is not "/completions2").
PATH_FAMILIES: Final = (
    "/files",
    "/uploads",
    "/fine_tuning",  # jobs, events, checkpoints, pause/resume/cancel, permissions, graders
    "/models",
    "/chat/completions",
    "/completions",
)
# The job webhooks mockft delivers: upstream names them `fine_tuning_job_succeeded`, ...
WEBHOOK_PREFIX: Final = ("fine_tuning_", "fine_tuning.")
# Components kept even when no kept path names them: what the contract helper falls back on.
ALWAYS_KEPT: Final = ("#/components/schemas/ErrorResponse",)
# Top-level keys copied as they are; the rest (tags, the docs navigation) say nothing about
# requests or responses.
TOP_LEVEL: Final = ("openapi", "info", "servers", "security")
REF: Final = re.compile(r"^#/components/([^/]+)/([^/]+)$")


# --- pruning ---------------------------------------------------------------------------------


def in_families(path: str) -> bool:
    bare = path.partition("?")[0]
    return any(bare == family or bare.startswith(family + "/") for family in PATH_FAMILIES)


def prune(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The served paths of ``spec`` and the components they reach, in upstream's order."""
    pruned: dict[str, Any] = {key: spec[key] for key in TOP_LEVEL if key in spec}
    pruned["paths"] = {k: v for k, v in spec.get("paths", {}).items() if in_families(k)}
    webhooks = {
        name: item
        for name, item in spec.get("webhooks", {}).items()
        if name.startswith(WEBHOOK_PREFIX)
    }
    if webhooks:
        pruned["webhooks"] = webhooks

    components: Mapping[str, Mapping[str, Any]] = spec.get("components", {})
    security = {name for entry in spec.get("security", []) for name in entry}
    reached = _reachable(components, [pruned["paths"], webhooks], ALWAYS_KEPT)
    kept: dict[str, Any] = {}
    for group, members in components.items():
        names = [
            name
            for name in members
            if (group, name) in reached or (group == "securitySchemes" and name in security)
        ]
        if names:
            kept[group] = {name: members[name] for name in names}
    pruned["components"] = kept
    return pruned


def _reachable(
    components: Mapping[str, Mapping[str, Any]],
    roots: Iterable[Any],
    always: Iterable[str],
) -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    pending: list[str] = [*always, *(ref for root in roots for ref in _refs(root))]
    while pending:
        ref = pending.pop()
        match = REF.match(ref)
        if match is None:
            raise ValueError(f"unsupported $ref {ref!r}: only #/components/<group>/<name>")
        key = (match.group(1), _unescape(match.group(2)))
        if key in seen:
            continue
        target = components.get(key[0], {}).get(key[1])
        if target is None:
            raise ValueError(f"$ref {ref!r} names no component of the spec")
        seen.add(key)
        pending.extend(_refs(target))
    return seen


def _refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` below ``node``, examples and vendor extensions included (harmless)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                yield ref
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


# --- what changed ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Changes:
    """Keys added, removed and changed between two pruned copies, per section."""

    added: Mapping[str, Sequence[str]]
    removed: Mapping[str, Sequence[str]]
    changed: Mapping[str, Sequence[str]]

    @property
    def empty(self) -> bool:
        return not any((*self.added.values(), *self.removed.values(), *self.changed.values()))

    def report(self) -> str:
        if self.empty:
            return "no changes"
        lines = []
        for verb, mark, groups in (
            ("added", "+", self.added),
            ("removed", "-", self.removed),
            ("changed", "~", self.changed),
        ):
            for section, keys in groups.items():
                if keys:
                    lines.append(f"{section}: {len(keys)} {verb}")
                    lines.extend(f"  {mark} {key}" for key in keys)
        return "\n".join(lines)


def _sections(spec: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    sections: dict[str, Mapping[str, Any]] = {
        "paths": spec.get("paths", {}),
        "webhooks": spec.get("webhooks", {}),
    }
    for group, members in spec.get("components", {}).items():
        sections[f"components/{group}"] = members
    sections["top level"] = {key: spec[key] for key in TOP_LEVEL if key in spec}
    return sections


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> Changes:
    before, after = _sections(old), _sections(new)
    added: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    changed: dict[str, list[str]] = {}
    for section in [*before, *(s for s in after if s not in before)]:
        a, b = before.get(section, {}), after.get(section, {})
        added[section] = [key for key in b if key not in a]
        removed[section] = [key for key in a if key not in b]
        changed[section] = [key for key in b if key in a and a[key] != b[key]]
    return Changes(added, removed, changed)


# --- files -----------------------------------------------------------------------------------


def upstream_commit(spec_path: Path) -> str | None:
    source = spec_path.parent / "SOURCE.md"
    if not source.is_file():
        return None
    match = re.search(r"Commit:\s*`?([0-9a-f]{7,40})", source.read_text())
    return match.group(1) if match else None


def dump(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, indent=1, ensure_ascii=False) + "\n"


def source_text(commit: str | None, version: str, pruned: Mapping[str, Any]) -> str:
    paths = "\n".join(f"- `{path}`" for path in pruned["paths"])
    schemas = len(pruned["components"].get("schemas", {}))
    return f"""# OpenAI OpenAPI description (pruned copy, vendored for the tests)

- Upstream: github.com/openai/openai-openapi, file `openapi.json`
- Commit: {commit or "unknown"}, `info.version` {version}
- License: MIT (see LICENSE in this folder)

Only the paths of the API families mockft serves, their `fine_tuning.*` webhooks and the
{schemas} schemas (and other components) they reference are kept, each exactly as upstream
has it. Written by `python -m tests.refresh_spec PATH`; do not edit by hand. To take a
newer upstream copy, run that command on it: it rewrites this folder and prints the paths
and components added, removed and changed.

Paths:
{paths}
"""


def refresh(spec_path: Path, target: Path, commit: str | None, check: bool) -> Changes:
    upstream = json.loads(spec_path.read_bytes())
    pruned = prune(upstream)
    current_file = target / SPEC_FILE
    current = json.loads(current_file.read_bytes()) if current_file.is_file() else {}
    changes = compare(current, pruned)
    if check:
        return changes
    target.mkdir(parents=True, exist_ok=True)
    current_file.write_text(dump(pruned))
    license_file = spec_path.parent / "LICENSE"
    if license_file.is_file():
        shutil.copyfile(license_file, target / "LICENSE")
    version = str(upstream.get("info", {}).get("version", "unknown"))
    (target / "SOURCE.md").write_text(
        source_text(commit or upstream_commit(spec_path), version, pruned)
    )
    return changes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.refresh_spec", description=__doc__)
    parser.add_argument("spec", type=Path, help="upstream openapi.json")
    parser.add_argument("--commit", help="the upstream commit of that file")
    parser.add_argument("--target", type=Path, default=VENDORED, help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help="report only; write nothing")
    args = parser.parse_args(argv)
    changes = refresh(args.spec, args.target, args.commit, args.check)
    print(changes.report())
    return 1 if args.check and not changes.empty else 0


if __name__ == "__main__":
    sys.exit(main())
