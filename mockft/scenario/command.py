"""`mockft scenario check | schema | export`: the scenario side of the command line (the
parser is `mockft.cli`'s)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Final

from mockft.config import Settings
from mockft.scenario.loader import ScenarioInvalid
from mockft.scenario.model import json_schema
from mockft.scenario.seed import Summary

EXIT_OK: Final = 0
EXIT_INVALID: Final = 1
EXIT_USAGE: Final = 2
EXPORT_TIMEOUT_SECONDS: Final = 300.0
DEFAULT_KEY: Final = "sk-test"


def run(args: argparse.Namespace) -> int:
    if args.action == "check":
        return check(args.files, as_json=args.json)
    if args.action == "schema":
        print(json.dumps(json_schema(), indent=2))
        return EXIT_OK
    return export(args)


def check(files: list[str], *, as_json: bool = False) -> int:
    """Load the files into a throwaway in-memory server and say what they make."""
    from mockft.service import Service

    try:
        service = Service.open(Settings(memory=True, scenario=tuple(Path(f) for f in files)))
    except ScenarioInvalid as exc:
        print(exc.text(), file=sys.stderr)
        return EXIT_INVALID
    try:
        summary = service.scenarios.started or Summary([str(f) for f in files])
        if as_json:
            print(json.dumps(summary.to_dict(), indent=2))
        else:
            print(describe(summary))
    finally:
        service.close()
    return EXIT_OK


def describe(summary: Summary) -> str:
    lines = [f"ok: {', '.join(summary.sources)}"]
    if summary.organizations:
        lines.append(f"  organizations: {', '.join(summary.organizations)}")
    for file in summary.files:
        lines.append(f"  file {file['id']}  {file['filename']}  ({file['organization']})")
    for job in summary.jobs:
        model = job["fine_tuned_model"] or ""
        lines.append(f"  job {job['id']}  {job['status']:<16} {model}".rstrip())
    for grant in summary.permissions:
        lines.append(f"  permission {grant['model']} -> {grant['project_id']}")
    added, removed = summary.models.get("added"), summary.models.get("removed")
    if added:
        lines.append(f"  base models added: {', '.join(added)}")
    if removed:
        lines.append(f"  base models removed: {', '.join(removed)}")
    counts = (
        (len(summary.chaos), "chaos rule"),
        (summary.outcomes, "outcome rule"),
        (summary.answers, "answer"),
    )
    said = [f"{n} {what}{'' if n == 1 else 's'}" for n, what in counts if n]
    if said:
        lines.append(f"  {', '.join(said)}")
    return "\n".join(lines)


def export(args: argparse.Namespace) -> int:
    if args.url:
        text = _fetch(args.url, args.key)
        if text is None:
            return EXIT_USAGE
    else:
        from mockft.scenario.export import export_toml
        from mockft.service import Service
        from mockft.store import DataDirLocked

        overrides: dict[str, object] = {"clock": "manual", "scenario": ()}
        if args.data_dir:
            overrides["data_dir"] = args.data_dir
        settings = Settings.from_env(None, **overrides)
        try:
            service = Service.open(settings)
        except DataDirLocked as exc:
            print(f"mockft: {exc}; export from it with --url instead", file=sys.stderr)
            return EXIT_INVALID
        try:
            text = export_toml(service)
        finally:
            service.close()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _fetch(url: str, key: str | None) -> str | None:
    key = key or os.environ.get("MOCKFT_CONTROL_KEY") or os.environ.get("OPENAI_API_KEY")
    request = urllib.request.Request(
        url.rstrip("/") + "/mockft/scenario",
        headers={"Authorization": f"Bearer {key or DEFAULT_KEY}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=EXPORT_TIMEOUT_SECONDS) as response:
            return str(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        print(
            f"mockft: {url} answered {exc.code}: {exc.read().decode('utf-8', 'replace')}",
            file=sys.stderr,
        )
    except (urllib.error.URLError, OSError) as exc:
        print(f"mockft: cannot reach {url}: {exc}", file=sys.stderr)
    return None
