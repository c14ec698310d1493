"""The control API under /mockft/: not part of OpenAI's surface."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft import __version__, errors, lifecycle
from mockft.routes.common import api_json, json_body, service_of
from mockft.schemas import json_type_name


async def health(request: Request) -> Response:
    service = service_of(request)
    return api_json({"status": "ok", "version": __version__, "clock": service.clock.mode})


async def reset(request: Request) -> Response:
    service_of(request).reset()
    return api_json({"reset": True})


async def clock(request: Request) -> Response:
    return api_json(service_of(request).clock.state())


def _number(body: dict[str, object], name: str) -> float:
    value = body.get(name)
    if value is None:
        raise errors.missing_param(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.invalid_type(name, "a number", json_type_name(value))
    return float(value)


async def advance_clock(request: Request) -> Response:
    service = service_of(request)
    service.clock.advance(_number(await json_body(request), "seconds"))
    return api_json(service.clock.state())


async def set_clock(request: Request) -> Response:
    service = service_of(request)
    body = await json_body(request)
    if "now" in body:
        service.clock.set(_number(body, "now"))
    if "speed" in body:
        service.clock.set_speed(_number(body, "speed"))
    return api_json(service.clock.state())


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/reset", reset, methods=["POST"]),
    Route("/clock", clock, methods=["GET"]),
    Route("/clock", set_clock, methods=["POST"]),
    Route("/clock/advance", advance_clock, methods=["POST"]),
]


async def fail_job(request: Request) -> Response:
    service = service_of(request)
    body = await json_body(request)
    code = body.get("code", lifecycle.DEFAULT_FAILURE_CODE)
    message = body.get("message", lifecycle.DEFAULT_FAILURE_MESSAGE)
    param = body.get("param")
    for name, value in (("code", code), ("message", message)):
        if not isinstance(value, str):
            raise errors.invalid_type(name, "a string", json_type_name(value))
    if param is not None and not isinstance(param, str):
        raise errors.invalid_type("param", "a string", json_type_name(param))
    org, _ = service.jobs.find(request.path_params["job_id"])
    error = lifecycle.JobError(code=code, message=message, param=param)
    return api_json(
        service.jobs.intervene(org, request.path_params["job_id"], lifecycle.FAIL, error)
    )


async def complete_job(request: Request) -> Response:
    service = service_of(request)
    org, _ = service.jobs.find(request.path_params["job_id"])
    return api_json(service.jobs.intervene(org, request.path_params["job_id"], lifecycle.COMPLETE))


routes += [
    Route("/jobs/{job_id}/fail", fail_job, methods=["POST"]),
    Route("/jobs/{job_id}/complete", complete_job, methods=["POST"]),
]
