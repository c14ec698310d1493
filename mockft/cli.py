"""`mockft serve | validate | reset | scenario`: every serve flag is also a MOCKFT_*
environment variable."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from pydantic import ValidationError

from mockft import __version__, validation
from mockft.config import Settings

EXIT_LOCKED: Final = 1  # the data dir is in use by another mockft


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mockft", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mockft {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the mock OpenAI fine-tuning API")
    serve.add_argument("--host", help="bind address (MOCKFT_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (MOCKFT_PORT, default 8000)")
    serve.add_argument("--data-dir", help="where state lives (MOCKFT_DATA_DIR, default ./.mockft)")
    serve.add_argument(
        "--memory", action="store_true", default=None, help="keep nothing on disk (MOCKFT_MEMORY)"
    )
    serve.add_argument(
        "--clock", choices=["system", "manual"], help="time source (MOCKFT_CLOCK, default system)"
    )
    serve.add_argument(
        "--speed", type=float, help="virtual seconds per real second (MOCKFT_SPEED, default 60)"
    )
    serve.add_argument("--seed", type=int, help="seed for ids and synthetic data (MOCKFT_SEED)")
    serve.add_argument(
        "--start-time",
        type=int,
        help="unix time a new clock starts at (MOCKFT_START_TIME, default now)",
    )
    serve.add_argument(
        "--scenario",
        action="append",
        help="scenario file to start with, repeatable, later files win (MOCKFT_SCENARIO, "
        f"paths separated by {os.pathsep!r}); see docs/scenarios.md",
    )
    serve.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="accepted key, repeatable; KEY=org puts it in its own org, KEY=org/PROJECT_ID "
        "in a project of it (MOCKFT_API_KEYS)",
    )
    serve.add_argument(
        "--admin-key",
        action="append",
        dest="admin_keys",
        help="admin key KEY=org for the admin endpoints (checkpoint permissions), repeatable "
        "(MOCKFT_ADMIN_KEYS)",
    )
    serve.add_argument(
        "--webhook",
        action="append",
        dest="webhooks",
        help="URL that receives the fine_tuning.job.* webhooks, repeatable (MOCKFT_WEBHOOKS)",
    )
    serve.add_argument(
        "--webhook-secret",
        help="whsec_... secret the webhooks are signed with (MOCKFT_WEBHOOK_SECRET; "
        "generated, kept in the data dir and printed if absent)",
    )
    serve.add_argument(
        "--azure-auto-deploy",
        action="store_true",
        default=None,
        help="Azure: a deployment named like a model exists by itself (MOCKFT_AZURE_AUTO_DEPLOY)",
    )
    serve.add_argument(
        "--control-key",
        action="append",
        dest="control_keys",
        help="key of the control API for every organization and the clock, repeatable "
        "(MOCKFT_CONTROL_KEYS)",
    )
    serve.add_argument(
        "--wandb-key",
        action="append",
        dest="wandb_keys",
        help="ORG=KEY: the organization has W&B credentials, so its jobs may enable the "
        "W&B integration; repeatable (MOCKFT_WANDB_KEYS)",
    )
    serve.add_argument(
        "--wandb-dir",
        help="write each W&B job's run here in W&B's offline format, for `wandb sync` "
        "(needs the wandb package; MOCKFT_WANDB_DIR)",
    )
    serve.add_argument(
        "--max-jobs-per-day",
        type=int,
        help="jobs an organization may create per model in 24 hours; more get the real 429 "
        "(MOCKFT_MAX_JOBS_PER_DAY, default no limit)",
    )
    serve.add_argument(
        "--max-running-jobs",
        type=int,
        help="jobs of an organization running at once per model; the rest stay queued "
        "(MOCKFT_MAX_RUNNING_JOBS, default no limit)",
    )
    serve.add_argument(
        "--http",
        choices=["auto", "httptools", "h11"],
        help="HTTP parser (MOCKFT_HTTP, default auto: httptools where installed)",
    )
    serve.add_argument(
        "--loop",
        choices=["auto", "uvloop", "asyncio"],
        help="event loop (MOCKFT_LOOP, default auto: uvloop where installed)",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        default=None,
        help="log a line per request (MOCKFT_ACCESS_LOG, default off)",
    )
    serve.add_argument("--log-level", default="info", help="uvicorn log level (default info)")

    _add_validate(commands)
    _add_scenario(commands)

    reset = commands.add_parser("reset", help="delete everything stored in the data dir")
    reset.add_argument("--data-dir", help="the data dir (MOCKFT_DATA_DIR, default ./.mockft)")
    return parser


def serve_settings(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Settings:
    """The settings `mockft serve ARGV` runs with: its flags over the MOCKFT_* variables of
    `environ` (default: this process's)."""
    return _settings(_parser().parse_args(["serve", *argv]), environ)


def _settings(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    overrides = {
        name: getattr(args, name, None)
        for name in (
            "host",
            "port",
            "data_dir",
            "memory",
            "clock",
            "speed",
            "seed",
            "start_time",
            "api_keys",
            "azure_auto_deploy",
            "control_keys",
            "wandb_keys",
            "wandb_dir",
            "max_jobs_per_day",
            "max_running_jobs",
            "http",
            "loop",
            "access_log",
            "admin_keys",
            "webhooks",
            "webhook_secret",
            "scenario",
        )
    }
    for keys in ("api_keys", "control_keys", "wandb_keys", "admin_keys", "webhooks", "scenario"):
        given = overrides[keys]
        if given is not None:
            overrides[keys] = tuple(given)
    return Settings.from_env(environ, **overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "validate":
        return _validate(args)
    if args.command == "scenario":
        from mockft.scenario import command as scenario_command

        return scenario_command.run(args)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"mockft: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    from mockft.scenario.loader import ScenarioInvalid
    from mockft.store import DataDirLocked, DataDirUnusable

    try:
        if args.command == "reset":
            return _reset(settings)
        return _serve(settings, args.log_level)
    except DataDirLocked as exc:
        print(f"mockft: {exc}; stop it first", file=sys.stderr)
        return EXIT_LOCKED
    except DataDirUnusable as exc:
        print(f"mockft: {exc} (give a writable --data-dir, or --memory)", file=sys.stderr)
        return EXIT_USAGE
    except ScenarioInvalid as exc:
        print(f"mockft: the scenario cannot be loaded:\n{exc.text()}", file=sys.stderr)
        return EXIT_USAGE


def _reset(settings: Settings) -> int:
    """The same reset as `POST /mockft/reset` with a control key; refused (the data dir
    is locked) while a server runs on it."""
    from mockft.service import Service

    service = Service.open(settings)
    try:
        service.control.reset(service.keys.root())
    finally:
        service.close()
    print(f"mockft: reset {settings.data_dir}")
    return 0


def _serve(settings: Settings, log_level: str) -> int:

    from mockft import dashboard, server
    from mockft.app import create_app
    from mockft.service import Service

    service = Service.open(settings)
    settings = service.settings  # with what the scenario says
    app = create_app(settings, service)
    print(_banner(settings))
    print(f"Serving on {server.stack(settings)}")
    webhooks = app.state.service.webhooks
    if settings.webhooks:
        urls = ", ".join(settings.webhooks)
        signed = "--webhook-secret" if settings.webhook_secret else webhooks.secret
        print(f"Webhooks: fine_tuning.job.* to {urls}, signed with {signed}")
    if settings.scenario:
        print(f"Scenario: {', '.join(str(p) for p in settings.scenario)}")
    print(f"Dashboard: {settings.base_url.removesuffix('/v1')}{dashboard.PREFIX}/")
    if settings.wandb_dir is not None:
        from mockft.service import wandb_runs

        missing = "" if wandb_runs.available() else " (wandb is not installed: none are written)"
        print(f"W&B offline runs: {settings.wandb_dir.resolve()}{missing}")
    sys.stdout.flush()
    server.run(app, settings, log_level=log_level)
    return 0


def _banner(settings: Settings) -> str:
    """What the server is, and how to point the SDK at it (with a key it accepts)."""
    where = "in memory" if settings.memory else f"in {settings.data_dir.resolve()}"
    clock = f"{settings.clock} clock" + (
        f" x{settings.speed:g}" if settings.clock == "system" else ""
    )
    if settings.api_keys:
        key = "<one of the configured API keys>"
        keys = f"{len(settings.api_keys)} API key(s) accepted"
    else:
        key = '"sk-test"'
        keys = "any API key accepted"
    if settings.admin_keys:
        keys += f", {len(settings.admin_keys)} admin key(s)"
    if settings.control_keys:
        keys += f", {len(settings.control_keys)} control key(s) for /mockft/"
    return (
        f"mockft {__version__}: OpenAI fine-tuning API mock, state {where}, {clock}, {keys}\n"
        f'Point the SDK at it: OpenAI(base_url="{settings.base_url}", api_key={key})'
    )


# -- mockft validate ----------------------------------------------------------------------

EXIT_VALID: Final = 0
EXIT_INVALID: Final = 1
EXIT_USAGE: Final = 2
DEFAULT_CHAT_MODEL: Final = "gpt-4o-mini"
DEFAULT_PROMPT_COMPLETION_MODEL: Final = "babbage-002"
PROGRESS_MIN_BYTES: Final = 50_000_000  # a smaller file is validated in a few seconds
PROGRESS_WIDTH: Final = 30
PROGRESS_INTERVAL_SECONDS: Final = 0.2
BYTES_PER_MB: Final = 1_000_000
SHOWN_LINES_SEPARATOR: Final = ", "
JSON_INDENT: Final = 2


def _add_scenario(commands: Any) -> None:
    scenario = commands.add_parser(
        "scenario",
        help="check, describe or export scenario files (docs/scenarios.md)",
        description="Scenario files: a server's starting state and what happens next.",
    )
    actions = scenario.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "check",
        help="validate scenario files offline and show what they make",
        description="Load the files (in order, later files win) into a throwaway in-memory "
        "server, as `mockft serve --scenario` would, and print what they make. Exit 0 when "
        "they load, 1 with every problem as file:line: message.",
    )
    check.add_argument("files", nargs="+", help="scenario files (TOML)")
    check.add_argument("--json", action="store_true", help="print what they make as JSON")
    actions.add_parser("schema", help="print the JSON Schema of a scenario file (for editors)")
    export = actions.add_parser(
        "export",
        help="write a server's state as a scenario",
        description="Write the state of a data dir (no server may be running on it), or of "
        "a running server (--url), as a scenario that loads back to the same API answers.",
    )
    where = export.add_mutually_exclusive_group()
    where.add_argument("--data-dir", help="the data dir (MOCKFT_DATA_DIR, default ./.mockft)")
    where.add_argument("--url", help="a running server's root, e.g. http://127.0.0.1:8000")
    export.add_argument(
        "--key", help="with --url: a control key (default MOCKFT_CONTROL_KEY or OPENAI_API_KEY)"
    )
    export.add_argument("-o", "--output", help="write to this file (default: standard output)")


def _add_validate(commands: Any) -> None:
    validate = commands.add_parser(
        "validate",
        help="check a training file offline, exactly as a fine-tuning job would",
        description="Check a JSONL training file as the fine-tuning service does (the same "
        "code mockft serve runs); print each check's count, token statistics, the epochs "
        '"auto" picks and the estimated cost. Exit 0 valid, 1 invalid, 2 usage error.',
    )
    validate.add_argument("file", help="the JSONL training file")
    validate.add_argument(
        "--model",
        help=f"model to fine-tune (default {DEFAULT_CHAT_MODEL}, or "
        f"{DEFAULT_PROMPT_COMPLETION_MODEL} when the file holds prompt/completion examples)",
    )
    validate.add_argument(
        "--method",
        choices=validation.METHODS,
        help="fine-tuning method (default supervised, or dpo when the file holds preference "
        "examples, or the model's only method)",
    )
    validate.add_argument("--json", action="store_true", help="print the report as JSON")


def _validate(args: argparse.Namespace) -> int:
    from mockft.catalog import load_catalog

    path = Path(args.file)
    if not path.is_file():
        print(f"mockft validate: no such file: {path}", file=sys.stderr)
        return EXIT_USAGE
    sniffed = _first_example_format(path)
    model = args.model or (
        DEFAULT_PROMPT_COMPLETION_MODEL
        if sniffed == validation.FORMAT_PROMPT_COMPLETION
        else DEFAULT_CHAT_MODEL
    )
    catalog = load_catalog()
    entry = catalog.resolve(model)
    spec = catalog.fine_tuning(model)
    if entry is None or spec is None:
        tunable = ", ".join(m.id for m in catalog.fine_tunable())
        reason = "is not a known model" if entry is None else "cannot be fine-tuned"
        print(f"mockft validate: {model} {reason}; fine-tunable: {tunable}", file=sys.stderr)
        return EXIT_USAGE
    method = args.method
    if method is None:
        method = (
            validation.METHOD_DPO
            if sniffed == validation.FORMAT_DPO
            else validation.METHOD_SUPERVISED
        )
        if not spec.supports(method):
            method = spec.methods[0]
    unsupported = validation.method_error(entry.id, spec, method)
    if unsupported is not None:
        print(f"mockft validate: {unsupported}", file=sys.stderr)
        return EXIT_USAGE
    size = path.stat().st_size
    progress = (
        _Progress(size, sys.stderr) if size >= PROGRESS_MIN_BYTES and sys.stderr.isatty() else None
    )
    try:
        report = validation.validate_path(
            path,
            model=entry.id,
            model_spec=spec,
            method=method,
            source=str(path),
            progress=None if progress is None else progress.show,
        )
    except OSError as exc:
        print(f"mockft validate: cannot read {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if progress is not None:
            progress.done()
    estimate = validation.estimate_cost(report, spec)
    if args.json:
        print(json.dumps(_report_json(report, estimate), indent=JSON_INDENT))
    else:
        _print_report(report, estimate)
    return EXIT_VALID if report.valid else EXIT_INVALID


def _first_example_format(path: Path) -> str | None:
    """The format of the file's first non-blank line, to pick defaults."""
    try:
        with open(path, "rb") as file:
            for raw in file:
                if raw.strip():
                    example = json.loads(raw)
                    break
            else:
                return None
    except (OSError, ValueError):
        return None
    return validation.format_of(example) if isinstance(example, dict) else None


class _Progress:
    """A bar on a terminal: bytes validated of the file's size."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = max(1, total)
        self.stream = stream
        self.read = 0
        self.shown_at = 0.0

    def show(self, done: int) -> None:
        self.read = done
        now = time.monotonic()
        if now - self.shown_at < PROGRESS_INTERVAL_SECONDS:
            return
        self.shown_at = now
        share = min(1.0, self.read / self.total)
        filled = int(share * PROGRESS_WIDTH)
        bar = "#" * filled + "." * (PROGRESS_WIDTH - filled)
        self.stream.write(
            f"\rvalidating [{bar}] {share:4.0%} "
            f"{self.read / BYTES_PER_MB:.1f}/{self.total / BYTES_PER_MB:.1f} MB"
        )
        self.stream.flush()

    def done(self) -> None:
        if self.shown_at:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _report_json(
    report: validation.ValidationReport, estimate: validation.CostEstimate
) -> dict[str, Any]:
    return {
        "file": report.source,
        **report.to_dict(),
        "n_epochs": estimate.n_epochs,
        "billed_tokens": estimate.billed_tokens,
        "price_per_1m_tokens": estimate.price_per_1m_tokens,
        "price_per_hour": estimate.price_per_hour,
        "estimated_cost": None if estimate.cost is None else round(estimate.cost, 6),
    }


def _print_report(report: validation.ValidationReport, estimate: validation.CostEstimate) -> None:
    print(f"mockft validate {report.source}")
    print(
        f"  model {report.model}, method {report.method}, "
        f"{report.format.replace('_', '/')} examples; tokens by {report.tokenizer}"
    )
    print()
    width = max(len(check.title) for check in report.checks)
    print(f"  {'':4} {'check':<{width}}  {'count':>7}  lines".rstrip())
    for check in report.checks:
        if not check.count:
            mark = "ok"
        elif check.severity == validation.ERROR:
            mark = "FAIL"
        else:
            mark = "warn"
        lines = SHOWN_LINES_SEPARATOR.join(str(line) for line in check.lines)
        if check.count > len(check.lines):
            lines += f" (+{check.count - len(check.lines)} more)"
        print(f"  {mark:<4} {check.title:<{width}}  {check.count:>7,}  {lines}".rstrip())
    stats = report.tokens
    over = report.check(validation.OVER_TOKEN_LIMIT).count
    print()
    print(f"  examples          {report.n_examples:,} ({report.n_lines:,} lines)")
    print(
        f"  tokens/example    min {stats.min:,}, mean {stats.mean:,.1f}, max {stats.max:,}; "
        f"total {stats.total:,}"
    )
    print(
        f"  over the limit    {over:,} example(s) above {report.token_limit:,} tokens "
        "(truncated when training)"
    )
    print(f'  epochs ("auto")   {estimate.n_epochs}')
    print(
        f"  billed tokens     {estimate.billed_tokens:,} "
        f"({report.billable_tokens:,} billable x {estimate.n_epochs} epochs)"
    )
    if estimate.cost is not None:
        print(
            f"  estimated cost    ${estimate.cost:,.2f} "
            f"(${estimate.price_per_1m_tokens:,.2f} per 1M training tokens)"
        )
    else:
        print(
            f"  estimated cost    billed per hour of training (${estimate.price_per_hour:,.2f}"
            "/hour), not per token: no estimate from tokens"
        )
    print()
    for warning in report.warnings:
        print(f"  warning: {warning}")
    if report.error is None:
        print("  valid: a job with this file passes validation")
    else:
        print(f"  INVALID ({report.error.code}): {report.error.message}")
