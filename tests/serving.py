"""`python -m mockft serve` as a user runs it: a subprocess on a free port and a data dir,
started with any flags, stopped gracefully or killed with SIGKILL, its output kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port

START_SECONDS = 30.0
CONTROL = {"Authorization": "Bearer k"}


class Served:
    def __init__(
        self,
        data_dir: Path,
        *flags: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.flags = flags
        self.env = env or {}
        self.port = port or free_port()
        self.log = data_dir.parent / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "mockft",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "warning",
            *self.flags,
        ]

    def start(self, *, wait: bool = True) -> Served:
        assert self.process is None
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFT_")}
        clean["MOCKFT_PRELOAD_VOCABULARIES"] = "0"  # see tests/conftest.py
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env={**clean, **self.env}
            )
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(f"{self.url}/mockft/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mockft serve did not start:\n{self.output()}")
            time.sleep(0.02)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> int | None:
        """Terminate (graceful shutdown); the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
        return process.wait(timeout=30)

    def client(self, key: str = "k") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )

    def now(self, key: str = "k") -> float:
        with self.client(key) as client:
            return float(client.get("/mockft/clock").json()["now"])


@contextmanager
def served(data_dir: Path, *flags: str, **kwargs: object) -> Iterator[Served]:
    server = Served(data_dir, *flags, **kwargs)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.stop()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFT_")}
    return subprocess.run(
        [sys.executable, "-m", "mockft", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
    )
