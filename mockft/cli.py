"""`mockft serve | reset`: every serve flag is also a MOCKFT_* environment variable."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from mockft import __version__
from mockft.config import Settings


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
        help="unix time a new manual clock starts at (MOCKFT_START_TIME, default now)",
    )
    serve.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="accepted key, repeatable; KEY=org puts it in its own org (MOCKFT_API_KEYS)",
    )
    serve.add_argument("--log-level", default="info", help="uvicorn log level (default info)")

    reset = commands.add_parser("reset", help="delete everything stored in the data dir")
    reset.add_argument("--data-dir", help="the data dir (MOCKFT_DATA_DIR, default ./.mockft)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
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
        )
    }
    if overrides["api_keys"] is not None:
        overrides["api_keys"] = tuple(overrides["api_keys"])
    return Settings.from_env(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"mockft: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    if args.command == "reset":
        from mockft.service import Service

        service = Service.open(settings)
        service.reset()
        service.close()
        print(f"mockft: reset {settings.data_dir}")
        return 0
    return _serve(settings, args.log_level)


def _serve(settings: Settings, log_level: str) -> int:
    import uvicorn

    from mockft.app import create_app

    app = create_app(settings)
    where = "in memory" if settings.memory else f"in {settings.data_dir.resolve()}"
    print(
        f"mockft {__version__}: OpenAI fine-tuning API mock, state {where}, "
        f"{settings.clock} clock" + (f" x{settings.speed:g}" if settings.clock == "system" else "")
    )
    print(f'Point the SDK at it: OpenAI(base_url="{settings.base_url}", api_key="sk-test")')
    sys.stdout.flush()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level)
    return 0
