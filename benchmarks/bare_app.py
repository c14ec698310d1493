"""The physical limit of the stack: a bare Starlette app under the same uvicorn settings,
answering fixed JSON bodies (the ones mockft answered) at the same paths, and reading
request bodies posted to /drain and discarding them (the limit of an upload).

    python -m benchmarks.bare_app PORT BODIES.json   (BODIES: {"/path": <json body>, ...})"""

from __future__ import annotations

import json
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(bodies: dict[str, object]) -> Starlette:
    encoded = {path: json.dumps(body).encode() for path, body in bodies.items()}

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
    port, bodies_file = int(sys.argv[1]), sys.argv[2]
    with open(bodies_file) as f:
        app = build(json.load(f))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
