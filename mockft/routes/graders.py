"""Graders (alpha): validate and run a grader. Nothing is stored; parsing is in
`mockft.service.graders`, scoring in `mockft.graders`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft.routes.common import api_json, json_body, service_of


async def validate_grader(request: Request) -> Response:
    return api_json(service_of(request).graders.validate(await json_body(request)))


async def run_grader(request: Request) -> Response:
    return api_json(service_of(request).graders.run(await json_body(request)))


routes = [
    Route("/fine_tuning/alpha/graders/validate", validate_grader, methods=["POST"]),
    Route("/fine_tuning/alpha/graders/run", run_grader, methods=["POST"]),
]
