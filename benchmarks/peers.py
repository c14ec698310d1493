"""mockft's polled routes side by side with bare Starlette on the same HTTP stacks and with
the peers that install from the registries, in one run.

    python -m benchmarks.peers [--seconds 1] [--rounds 7] [--only NAME ...]

Every server runs at once; each round loads each (route, server) pair in turn with the same
load generator (benchmarks/loadgen.py: 16 keep-alive connections, one thread), so a burst
of load from elsewhere on the machine hits all of them alike. A figure is the median of the
rounds (a ratio: the median of each round's ratio).

- bare Starlette (benchmarks/bare_app.py) answers the bytes mockft answered at the same
  paths: the cost of the stack itself, under h11 + asyncio and httptools + uvloop;
- mockft under the same two stacks (`--http`, `--loop`);
- aimock (npm `@copilotkit/aimock`: files and fine-tuning jobs with a lifecycle), Prism
  (npm `@stoplight/prism-cli` mocking the vendored OpenAPI description) and fakeai (PyPI
  `fakeai`), when they are installed under benchmarks/.peers (see `install_hint`); a peer
  that is not installed, or does not answer a route with 200, is left out with a note.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.loadgen import requests_per_second

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "benchmarks" / ".peers"
NODE_MODULES = PEERS / "node_modules"
FAKEAI = PEERS / "fakeai-venv" / "bin" / "fakeai"
SPEC = ROOT / "tests" / "data" / "openai-openapi" / "openapi.json"
TRAIN = ROOT / "fixtures" / "train_chat.jsonl"
KEY = "sk-bench"
AUTH = {"Authorization": f"Bearer {KEY}"}
CONNECTIONS = 16
ROUTES = ("retrieve job", "list events", "list checkpoints", "list jobs", "retrieve file")
H11, FAST = "h11 + asyncio", "httptools + uvloop"
STACK_ARGS = {H11: ("h11", "asyncio"), FAST: ("httptools", "uvloop")}

install_hint = (
    "cd benchmarks/.peers && npm install @copilotkit/aimock @stoplight/prism-cli && "
    "python3 -m venv fakeai-venv && fakeai-venv/bin/pip install fakeai pillow"
)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    """A server under test: its name, stack, port and the path of each route it answers."""

    name: str
    stack: str
    port: int
    paths: dict[str, str]
    process: subprocess.Popen[bytes]
    rps: dict[str, list[float]] = field(default_factory=dict)


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, headers=AUTH, timeout=2).status_code < 500:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


def _spawn(command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def _answering(base: str, candidates: dict[str, str]) -> dict[str, str]:
    """The routes whose path answers 200 (a peer that lacks one is left out there)."""
    found = {}
    for route, path in candidates.items():
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + path, headers=AUTH, timeout=10).status_code == 200:
                found[route] = path
    return found


def _seed_by_api(base: str) -> dict[str, str]:
    """A training file and a job made through the API (mockft's manual clock then moves
    past the job's end; a peer's job is polled where its lifecycle stands)."""
    with httpx.Client(base_url=base, headers=AUTH, timeout=60) as http:
        upload = http.post(
            "/v1/files",
            files={"file": ("train.jsonl", TRAIN.read_bytes(), "application/jsonl")},
            data={"purpose": "fine-tune"},
        )
        upload.raise_for_status()
        file_id = upload.json()["id"]
        created = http.post(
            "/v1/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file_id}
        )
        created.raise_for_status()
        job_id = created.json()["id"]
        with contextlib.suppress(httpx.HTTPError):  # mockft's manual clock only
            http.post("/mockft/clock/advance", json={"seconds": 86_400})
    job = f"/v1/fine_tuning/jobs/{job_id}"
    return {
        "retrieve job": job,
        "list events": f"{job}/events?limit=20",
        "list checkpoints": f"{job}/checkpoints",
        "list jobs": "/v1/fine_tuning/jobs",
        "retrieve file": f"/v1/files/{file_id}",
    }


def start_mockft(stack: str) -> Running:
    http, loop = STACK_ARGS[stack]
    port = free_port()
    process = _spawn(
        [sys.executable, "-m", "mockft", "serve", "--memory", "--clock", "manual"]
        + ["--port", str(port), "--api-key", KEY, "--log-level", "warning"]
        + ["--http", http, "--loop", loop]
    )
    base = f"http://127.0.0.1:{port}"
    _wait(base + "/mockft/health", process)
    return Running("mockft", stack, port, _answering(base, _seed_by_api(base)), process)


def start_bare(stack: str, bodies: dict[str, bytes], workdir: Path) -> Running:
    """bare_app answering, at each path, the bytes mockft answered there."""
    http, loop = STACK_ARGS[stack]
    bodies_file = workdir / f"bodies-{http}.json"
    bodies_file.write_text(json.dumps({p: json.loads(b) for p, b in bodies.items()}))
    port = free_port()
    process = _spawn(
        [sys.executable, "-m", "benchmarks.bare_app", str(port), str(bodies_file)]
        + ["--http", http, "--loop", loop]
    )
    base = f"http://127.0.0.1:{port}"
    _wait(base + "/drain", process)
    return Running("bare Starlette", stack, port, dict(_PATHS), process)


_PATHS: dict[str, str] = {}  # the routes' paths on mockft, which bare_app answers too


def start_aimock(workdir: Path) -> Running:
    cli = NODE_MODULES / "@copilotkit" / "aimock" / "dist" / "cli.js"
    if not cli.exists():
        raise FileNotFoundError("aimock is not installed")
    fixtures = workdir / "aimock-fixtures"
    fixtures.mkdir(exist_ok=True)
    port = free_port()
    process = _spawn(
        ["node", str(cli), "-p", str(port), "-f", str(fixtures), "--log-level", "silent"]
    )
    base = f"http://127.0.0.1:{port}"
    _wait(base + "/v1/fine_tuning/jobs", process)
    return Running("aimock", "Node", port, _answering(base, _seed_by_api(base)), process)


def start_prism() -> Running:
    cli = NODE_MODULES / ".bin" / "prism"
    if not cli.exists():
        raise FileNotFoundError("Prism is not installed")
    port = free_port()
    process = _spawn([str(cli), "mock", "-p", str(port), "-h", "127.0.0.1", str(SPEC)])
    base = f"http://127.0.0.1:{port}"
    _wait(base + "/fine_tuning/jobs", process)
    # The description's server URL ends in /v1: Prism serves its paths without it.
    job = "/fine_tuning/jobs/ftjob-abc123"
    candidates = {
        "retrieve job": job,
        "list events": f"{job}/events?limit=20",
        "list checkpoints": f"{job}/checkpoints",
        "list jobs": "/fine_tuning/jobs",
        "retrieve file": "/files/file-abc123",
    }
    return Running("Prism", "Node", port, _answering(base, candidates), process)


def start_fakeai() -> Running:
    if not FAKEAI.exists():
        raise FileNotFoundError("fakeai is not installed")
    port = free_port()
    process = _spawn([str(FAKEAI), "server", "--host", "127.0.0.1", "--port", str(port)])
    base = f"http://127.0.0.1:{port}"
    _wait(base + "/v1/models", process)
    return Running("fakeai", "Python", port, _answering(base, _seed_by_api(base)), process)


@dataclass
class SideBySide:
    servers: list[Running]
    notes: list[str]
    rounds: int

    def median(self, name: str, stack: str, route: str) -> float | None:
        for s in self.servers:
            if s.name == name and s.stack == stack and s.rps.get(route):
                return statistics.median(s.rps[route])
        return None

    def ratio(self, name: str, stack: str, other: str, other_stack: str, route: str) -> float:
        """The median over rounds of each round's ratio."""
        ours = next(s for s in self.servers if s.name == name and s.stack == stack)
        theirs = next(s for s in self.servers if s.name == other and s.stack == other_stack)
        pairs = zip(ours.rps[route], theirs.rps[route], strict=True)
        return statistics.median(a / b for a, b in pairs)

    def table(self) -> str:
        routes = [r for r in ROUTES if any(r in s.rps for s in self.servers)]
        lines = [
            "| server | stack | " + " | ".join(routes) + " |",
            "| --- | --- |" + " --- |" * len(routes),
        ]
        for s in self.servers:
            cells = []
            for route in routes:
                rate = self.median(s.name, s.stack, route)
                cells.append("n/a" if rate is None else f"{rate:,.0f}")
            lines.append(f"| {s.name} | {s.stack} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


@contextlib.contextmanager
def servers(only: set[str] | None) -> Iterator[tuple[list[Running], list[str]]]:
    running: list[Running] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        try:
            for stack in (H11, FAST):
                ours = start_mockft(stack)
                running.append(ours)
                if not _PATHS:
                    _PATHS.update(ours.paths)
                    bodies = {
                        p.split("?")[0]: httpx.get(
                            f"http://127.0.0.1:{ours.port}{p}", headers=AUTH
                        ).content
                        for p in ours.paths.values()
                    }
                running.append(start_bare(stack, bodies, workdir))
            peers: dict[str, Callable[[], Running]] = {
                "aimock": lambda: start_aimock(workdir),
                "Prism": start_prism,
                "fakeai": start_fakeai,
            }
            for name, start in peers.items():
                if only is not None and name not in only:
                    continue
                if name != "fakeai" and shutil.which("node") is None:
                    notes.append(f"{name}: skipped (no node on this machine)")
                    continue
                try:
                    peer = start()
                except (FileNotFoundError, RuntimeError) as exc:
                    notes.append(f"{name}: skipped ({exc}; {install_hint})")
                    continue
                running.append(peer)
                missing = [r for r in ROUTES if r not in peer.paths]
                if missing:
                    notes.append(f"{name}: no 200 answer on {', '.join(missing)}")
            yield running, notes
        finally:
            for server in running:
                server.process.terminate()
            for server in running:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.process.wait(timeout=20)


def measure(seconds: float, rounds: int, only: set[str] | None = None) -> SideBySide:
    with servers(only) as (running, notes):
        for _ in range(rounds):
            for route in ROUTES:
                for server in running:
                    path = server.paths.get(route)
                    if path is not None:
                        rate = requests_per_second(server.port, path, seconds, AUTH, CONNECTIONS)
                        server.rps.setdefault(route, []).append(rate)
        return SideBySide(running, notes, rounds)


def figures(quick: bool) -> list[Any]:
    """For `python -m benchmarks`: mockft / bare per stack and route, and mockft on the fast
    stack / aimock per route; the whole table goes into the figure notes' section."""
    from benchmarks.__main__ import Figure

    result = measure(seconds=1.0, rounds=3 if quick else 7)
    found: list[Any] = []
    for route in ROUTES:
        for stack in (H11, FAST):
            ratio = result.ratio("mockft", stack, "bare Starlette", stack, route)
            ours = result.median("mockft", stack, route) or 0
            bare = result.median("bare Starlette", stack, route) or 0
            found.append(
                Figure(
                    f"{route}: mockft vs bare Starlette, {stack}",
                    ratio,
                    "x",
                    ">= 0.8",
                    ratio >= 0.8,
                    f"{ours:,.0f} vs {bare:,.0f} req/s (median of {result.rounds} rounds)",
                )
            )
        if result.median("aimock", "Node", route) is not None:
            ratio = result.ratio("mockft", FAST, "aimock", "Node", route)
            theirs = result.median("aimock", "Node", route) or 0
            found.append(
                Figure(
                    f"{route}: mockft ({FAST}) vs aimock",
                    ratio,
                    "x",
                    ">= 1",
                    ratio >= 1,
                    f"aimock {theirs:,.0f} req/s",
                )
            )
    LAST_TABLE[:] = [result.table(), *result.notes]
    return found


LAST_TABLE: list[str] = []  # the side-by-side table of the last run, for results.md


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", nargs="*", help="peers to include (default: all installed)")
    args = parser.parse_args()
    result = measure(args.seconds, args.rounds, set(args.only) if args.only is not None else None)
    print(result.table())
    for route in ROUTES:
        shown = []
        for stack in (H11, FAST):
            ratio = result.ratio("mockft", stack, "bare Starlette", stack, route)
            shown.append(f"{stack} {ratio:.2f}x")
        if result.median("aimock", "Node", route) is not None:
            shown.append(f"vs aimock {result.ratio('mockft', FAST, 'aimock', 'Node', route):.2f}x")
        print(f"{route}: " + ", ".join(shown))
    for note in result.notes:
        print(f"note: {note}")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
