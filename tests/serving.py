"""`mockft serve` as a user runs it, on a data dir: `Served` is the process (the plugin's
`ServeProcess`: a free port, started with any flags, stopped gracefully or killed with
SIGKILL, its output kept); `ServedInProcess` is the same app opened in this process from the
same flags (`served_in_process`), for tests that restart a data dir but need neither a
process nor a socket."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from mockft.cli import serve_settings
from mockft.pytest_plugin import MockFT, ServeProcess
from mockft.pytest_plugin.live import ENV_PREFIX, free_port
from tests.conftest import NO_PRELOAD

CONTROL = {"Authorization": "Bearer k"}


def _clean_env(env: dict[str, str] | None = None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    return {**clean, **(env or {})}


class Served(ServeProcess):
    """`python -m mockft serve --data-dir DATA_DIR FLAGS` on a free port; its output in
    `serve-<port>.log` beside the data dir."""

    def __init__(
        self,
        data_dir: Path,
        *flags: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        port = port or free_port()
        super().__init__(
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
            *flags,
            port=port,
            env={**NO_PRELOAD, **(env or {})},
            log=data_dir.parent / f"serve-{port}.log",
        )
        self.data_dir = data_dir

    def client(self, key: str = "k") -> httpx.Client:
        return httpx.Client(
            base_url=self.root_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )

    def now(self, key: str = "k") -> float:
        with self.client(key) as client:
            return float(client.get("/mockft/clock").json()["now"])


@contextmanager
def served(data_dir: Path, *flags: str, **kwargs: object) -> Iterator[Served]:
    with Served(data_dir, *flags, **kwargs) as server:  # type: ignore[arg-type]
        yield server


class ServedInProcess:
    """The app `mockft serve --data-dir DATA_DIR FLAGS` serves, opened in this process (the
    same settings, the same data dir and lock), reached without sockets."""

    def __init__(self, data_dir: Path, *flags: str) -> None:
        settings = serve_settings(["--data-dir", str(data_dir), *flags], _clean_env())
        self.handle = MockFT(settings=settings)

    def client(self, key: str = "k") -> httpx.Client:
        client: httpx.Client = self.handle.http_client(
            family="httpx", headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        return client

    def now(self, key: str = "k") -> float:
        with self.client(key) as client:
            return float(client.get("/mockft/clock").json()["now"])

    def close(self) -> None:
        self.handle.close()


@contextmanager
def served_in_process(data_dir: Path, *flags: str) -> Iterator[ServedInProcess]:
    app = ServedInProcess(data_dir, *flags)
    try:
        yield app
    finally:
        app.close()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockft", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(env),
    )
