"""A recording reverse proxy: every request a client sends, and the answer it got.

    python -m benchmarks.clients.recorder --upstream http://127.0.0.1:8001 \
        --port 8000 --out /tmp/run/openai-cli.jsonl

Point the client at the proxy (``OPENAI_BASE_URL=http://127.0.0.1:8000/v1``); each
exchange is appended to ``--out`` as one JSON line: method, path, query, request headers
and body, status, response headers and body (bodies as text when they decode as UTF-8,
else base64; multipart uploads are kept whole). Streams are passed through as they arrive
and recorded once complete. mockft's own ``GET /mockft/requests`` says what was asked and
the status; this says what was said.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding", "host"}
_MAX_BODY = 256 * 1024  # bodies above this are recorded cut, with their full length


def _text(data: bytes) -> dict[str, Any]:
    cut = data[:_MAX_BODY]
    try:
        body: dict[str, Any] = {"text": cut.decode()}
    except UnicodeDecodeError:
        body = {"base64": base64.b64encode(cut).decode()}
    body["length"] = len(data)
    return body


_POLL = re.compile(r"^/v1/fine_tuning/jobs(/[^/]+(/events|/checkpoints)?)?$")


def build(upstream: str, out: Path, advance_per_poll: float = 0.0) -> Starlette:
    """The proxy app; with ``advance_per_poll``, each read of a job (or of its events or
    checkpoints) first moves mockft's manual clock on by that many seconds, so a client
    that polls with sleeps sees its job progress one step of time per poll."""
    client = httpx.AsyncClient(base_url=upstream, timeout=None)
    seq = 0

    async def proxy(request: Request) -> Response:
        nonlocal seq
        seq += 1
        n = seq
        body = await request.body()
        if advance_per_poll and request.method == "GET" and _POLL.match(request.url.path):
            await client.post(
                "/mockft/clock/advance",
                json={"seconds": advance_per_poll},
                headers={"authorization": request.headers.get("authorization", "")},
            )
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in _HOP and k.lower() != "accept-encoding"
        }
        started = time.time()
        upstream_request = client.build_request(
            request.method,
            request.url.path,
            params=request.url.query,
            headers=headers,
            content=body,
        )
        answer = await client.send(upstream_request, stream=True)
        answer_headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}

        def record(data: bytes) -> None:
            entry = {
                "seq": n,
                "at": round(started, 3),
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "request_headers": {
                    k: v
                    for k, v in request.headers.items()
                    if k.lower() not in ("authorization", "api-key")
                },
                "request_body": _text(body),
                "status": answer.status_code,
                "response_headers": dict(answer.headers),
                "response_body": _text(data),
            }
            with out.open("a") as f:
                f.write(json.dumps(entry) + "\n")

        async def relay() -> AsyncIterator[bytes]:
            chunks: list[bytes] = []
            try:
                async for chunk in answer.aiter_raw():
                    chunks.append(chunk)
                    yield chunk
            finally:
                await answer.aclose()
                record(b"".join(chunks))

        return StreamingResponse(relay(), status_code=answer.status_code, headers=answer_headers)

    methods = ["GET", "POST", "DELETE", "PUT", "PATCH"]
    return Starlette(routes=[Route("/{path:path}", proxy, methods=methods)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--advance-per-poll", type=float, default=0.0)
    args = parser.parse_args()
    uvicorn.run(
        build(args.upstream, args.out, args.advance_per_poll),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
