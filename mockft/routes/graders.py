"""Graders (alpha): validate and run a grader. Nothing is stored; scoring is in
`mockft.graders`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft import graders
from mockft.routes.common import api_json, json_body


async def validate_grader(request: Request) -> Response:
    body = graders.parse_validate_request(await json_body(request))
    return api_json({"grader": graders.grader_api(body.grader)})


async def run_grader(request: Request) -> Response:
    body = graders.parse_run_request(await json_body(request))
    return api_json(graders.run(body.grader, body.model_sample, body.item))


routes = [
    Route("/fine_tuning/alpha/graders/validate", validate_grader, methods=["POST"]),
    Route("/fine_tuning/alpha/graders/run", run_grader, methods=["POST"]),
]
