"""`mockft serve` as a user runs it, on a data dir: `Served` is the process (the plugin's
`ServeProcess`: a free port, started with any flags, stopped gracefully or killed with
SIGKILL, its output kept); `ServedInProcess` is the same app opened in this process from the
same flags (`served_in_process`), for tests that restart a data dir but need neither a
process nor a socket.

The processes (`ForkedServeProcess`, `Served`, `run_cli`) are `python -m mockft ...` forked
by this test process's zygote (tests/zygote.py) rather than exec'd: the same separate
process, pid, signals, exit codes and output, without ~0.35 s of CPU for starting Python
and importing mockft each time. Tests about the command itself (the Docker image's
`mockft` script, `unshare`) exec `ServeProcess` as it is."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from mockft.cli import serve_settings
from mockft.pytest_plugin import MockFT, MockFTError, ServeProcess
from mockft.pytest_plugin.live import ENV_PREFIX, free_port, unused_tls
from tests import zygote
from tests.conftest import NO_PRELOAD

CONTROL = {"Authorization": "Bearer k"}
PLAIN_HTTP = unused_tls()  # the servers speak plain HTTP (~60 clients a run share it)


def clean_env(env: dict[str, str] | None = None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    return {**clean, **(env or {})}


class ForkedServeProcess(ServeProcess):
    """`ServeProcess` whose process comes from the zygote (`zygote.popen`: forked where the
    command is `python -m mockft`, exec'd otherwise)."""

    def start(self, *, wait: bool = True) -> ForkedServeProcess:
        if self.process is not None:
            raise MockFTError(f"mockft serve already runs on port {self.port}")
        with open(self.log, "ab") as output:
            self.process = zygote.popen(  # type: ignore[assignment]
                self.argv(),
                stdout=output,
                stderr=subprocess.STDOUT,
                env=clean_env(self.env),
                cwd=self.cwd,
            )
        if wait:
            self.wait_healthy()
        return self


class Served(ForkedServeProcess):
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
            base_url=self.root_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            verify=PLAIN_HTTP,
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
        settings = serve_settings(["--data-dir", str(data_dir), *flags], clean_env())
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
    """`python -m mockft ARGS` to its end, its output captured as text (from the zygote)."""
    return zygote.run([sys.executable, "-m", "mockft", *args], env=clean_env(env), timeout=60)
