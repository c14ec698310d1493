"""A small HTTP/1.1 keep-alive load generator (asyncio, raw streams), run as its own process
so that the server under test and the generator do not share an interpreter.

    python -m benchmarks.loadgen HOST PORT PATH --connections 16 --seconds 5 --header K:V

One thread, on uvloop where it is installed (the cheaper the generator, the more of the
shared machine the server under test gets; every server meets the same generator).

Prints one JSON line: {"requests": N, "seconds": S, "rps": R, "errors": E}."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


async def _worker(host: str, port: int, request: bytes, deadline: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            chunked = False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:  # Node servers answer JSON in chunks
                while size := int((await reader.readline()).split(b";")[0], 16):
                    await reader.readexactly(size + 2)
                await reader.readline()
            else:
                await reader.readexactly(length)
            counts[0 if status_line.split()[1] == b"200" else 1] += 1
    finally:
        writer.close()


async def run(
    host: str, port: int, path: str, connections: int, seconds: float, headers: list[str]
) -> dict[str, float]:
    extra = "".join(f"{h}\r\n" for h in headers)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
    counts = [0, 0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_worker(host, port, request, deadline, counts) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    return {
        "requests": counts[0],
        "errors": counts[1],
        "seconds": elapsed,
        "rps": counts[0] / elapsed,
    }


def requests_per_second(
    port: int, path: str, seconds: float, headers: dict[str, str], connections: int
) -> float:
    """Requests a second that this generator, run as its own process, gets from the server on
    127.0.0.1:`port` for `path`; a non-200 answer is an error, not a rate."""
    command = [sys.executable, "-m", "benchmarks.loadgen", "127.0.0.1", str(port), path]
    command += ["--seconds", str(seconds), "--connections", str(connections)]
    for key, value in headers.items():
        command += ["--header", f"{key}: {value}"]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, check=True, text=True)
    result = json.loads(out.stdout)
    if result["errors"]:
        raise RuntimeError(f"{result['errors']} non-200 answers from {path}")
    return float(result["rps"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("path")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(
        run(args.host, args.port, args.path, args.connections, args.seconds, args.header)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
