"""In-process cost of polling a job: GET /v1/fine_tuning/jobs/{id} handed straight to the
ASGI app (no socket, no HTTP client), the way a poll loop hits it.

    python benchmarks/bench_poll.py [--requests N] [--rounds R]

Run it with two checkouts on PYTHONPATH in turn (e.g. before and after a change) to see
what the change costs a poll.

Prints the median microseconds per request over the rounds, and which mockft it timed."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import httpx

import mockft
from mockft.app import create_app
from mockft.config import Settings

AUTH = [(b"authorization", b"Bearer sk-bench")]


async def request(app, path: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench"), *AUTH],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    status = 0

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def main(requests: int, rounds: int, train: Path) -> None:
    app = create_app(Settings(memory=True, clock="manual", start_time=1_750_000_000, seed=1))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bench",
        headers={"Authorization": "Bearer sk-bench"},
    ) as client:
        file_id = (
            await client.post(
                "/v1/files",
                files={"file": ("t.jsonl", train.read_bytes())},
                data={"purpose": "fine-tune"},
            )
        ).json()["id"]
        job = (
            await client.post(
                "/v1/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file_id}
            )
        ).json()
        await client.post("/mockft/clock/advance", json={"seconds": 200})
    path = f"/v1/fine_tuning/jobs/{job['id']}"
    assert await request(app, path) == 200
    for _ in range(200):  # warm-up
        await request(app, path)
    per_request = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(requests):
            await request(app, path)
        per_request.append((time.perf_counter() - started) / requests * 1e6)
    print(
        json.dumps(
            {
                "mockft": str(Path(mockft.__file__).parent),
                "us_per_request_median": round(statistics.median(per_request), 2),
                "rounds": [round(r, 2) for r in per_request],
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--train",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "fixtures" / "train_chat.jsonl",
    )
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds, args.train))
