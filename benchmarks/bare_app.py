"""The physical limit of the stack: a bare Starlette app under the same uvicorn settings,
answering fixed JSON bodies (the ones mockft answered) at the same paths, and reading
request bodies posted to /drain and discarding them (the limit of an upload).

    python -m benchmarks.bare_app PORT BODIES.json [--http h11|httptools] [--loop asyncio|uvloop]
    (BODIES: {"/path": <json body>, ...}; a request's query string is ignored)"""

from __future__ import annotations

import argparse
import json

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(bodies: dict[str, object]) -> Starlette:
    encoded = {
        path: json.dumps(body, separators=(",", ":")).encode() for path, body in bodies.items()
    }

    async def endpoint(request: Request) -> Response:
        return Response(encoded[request.url.path], media_type="application/json")

    async def drain(request: Request) -> Response:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return Response(json.dumps({"bytes": size}).encode(), media_type="application/json")

    routes = [Route(path, endpoint) for path in encoded]
    return Starlette(routes=[*routes, Route("/drain", drain, methods=["POST"])])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("bodies")
    parser.add_argument("--http", default="h11")
    parser.add_argument("--loop", default="asyncio")
    args = parser.parse_args()
    with open(args.bodies) as f:
        app = build(json.load(f))
    # The same uvicorn settings as mockft's server, access log off as mockft's is.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        http=args.http,
        loop=args.loop,
        access_log=False,
    )
