"""A small HTTP/1.1 keep-alive load generator (asyncio, raw streams), run as its own process
so that the server under test and the generator do not share an interpreter.

    python -m benchmarks.loadgen HOST PORT PATH --connections 32 --seconds 5 --header K:V

Prints one JSON line: {"requests": N, "seconds": S, "rps": R, "errors": E}."""

from __future__ import annotations

import argparse
import asyncio
import json
import time


async def _worker(host: str, port: int, request: bytes, deadline: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("path")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    result = asyncio.run(
        run(args.host, args.port, args.path, args.connections, args.seconds, args.header)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
