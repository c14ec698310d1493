"""Run one third-party client against a fresh mockft, recording every exchange.

    python -m benchmarks.clients.harness --out /tmp/run/openai-cli \
        --clock system --speed 600 -- bash benchmarks/clients/openai_cli.sh

Starts ``mockft serve --memory`` (a fresh server: the client's first request is the
server's first) on a free port, the recording proxy (``recorder.py``) in front of it, sets
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` (and ``OPENAI_API_BASE`` for clients that read
that) to the proxy, runs the command, and leaves in ``--out``:

- ``exchanges.jsonl``: each request and the answer it got, bodies included;
- ``requests.json``: mockft's own request log (``GET /mockft/requests``);
- ``output.txt``: what the command printed; ``exit`` its exit code.

``--clock manual --advance-per-poll 120`` runs a manual clock that moves 120 s before each
read of a job, its events or checkpoints (a client polling with sleeps sees its job move
one step per poll). Both servers are stopped when the command ends.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from mockft.pytest_plugin.live import ServeProcess

KEY = "sk-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Until ``port`` accepts a connection (no request is sent: the run's first request
    is the client's)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _get(url: str) -> object:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clock", choices=["system", "manual"], default="system")
    parser.add_argument("--speed", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--advance-per-poll", type=float, default=0.0)
    parser.add_argument("--cwd", type=Path, default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "exchanges.jsonl").unlink(missing_ok=True)
    (out / "requests.json").unlink(missing_ok=True)

    flags = ["--memory", "--log-level", "warning", "--clock", args.clock, "--seed", str(args.seed)]
    if args.clock == "system":
        flags += ["--speed", str(args.speed)]
    mock = ServeProcess(*flags, log=out / "serve.log")
    mock_port, proxy_port = mock.port, _free_port()
    recorder = [sys.executable, "-m", "benchmarks.clients.recorder", "--port"]
    recorder += [str(proxy_port), "--upstream", f"http://127.0.0.1:{mock_port}"]
    recorder += ["--out", str(out / "exchanges.jsonl")]
    recorder += ["--advance-per-poll", str(args.advance_per_poll)]
    here = Path(__file__).resolve().parents[2]
    proxy = subprocess.Popen(recorder, cwd=here)
    code = 1
    try:
        mock.start()
        _wait(proxy_port, proxy)
        base = f"http://127.0.0.1:{proxy_port}/v1"
        env = dict(os.environ, OPENAI_BASE_URL=base, OPENAI_API_BASE=base)
        env.update(OPENAI_API_KEY=KEY, MOCKFT_URL=f"http://127.0.0.1:{mock_port}")
        started = time.monotonic()
        with (out / "output.txt").open("w") as log:
            run = subprocess.run(
                command, env=env, cwd=args.cwd, stdout=log, stderr=subprocess.STDOUT
            )
        code = run.returncode
        elapsed = time.monotonic() - started
        (out / "exit").write_text(f"{code}\n{elapsed:.1f}s\n")
        requests = _get(f"http://127.0.0.1:{mock_port}/mockft/requests")
        (out / "requests.json").write_text(json.dumps(requests, indent=1))
        print(f"exit {code} in {elapsed:.1f}s; {out}", file=sys.stderr)
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        mock.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
