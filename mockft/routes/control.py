"""The control API under /mockft/: not part of OpenAI's surface."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft import __version__, errors, lifecycle
from mockft.chaos import RULE_OBJECT, Chaos, ChaosSpec, RequestLog
from mockft.routes.common import api_json, json_body, parse_body, service_of, settled
from mockft.schemas import json_type_name
from mockft.service.jobs import FailurePoint
from mockft.wire import jobs as wire


async def health(request: Request) -> Response:
    service = service_of(request)
    return api_json({"status": "ok", "version": __version__, "clock": service.clock.mode})


async def reset(request: Request) -> Response:
    """Back to a fresh server: no objects, no chaos rules, an empty request log."""
    service_of(request).reset()
    chaos_of(request).clear()
    request_log_of(request).clear()
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
    when = _failure_point(body)
    org, _ = service.jobs.find(request.path_params["job_id"])
    error = lifecycle.JobError(code=code, message=message, param=param)
    job_id = request.path_params["job_id"]
    view = await settled(
        request, lambda: service.jobs.intervene(org, job_id, lifecycle.FAIL, error, when)
    )
    return api_json(wire.job(view))


def _failure_point(body: dict[str, object]) -> FailurePoint | None:
    """`at_step: N` (the end of step N) or `in_state: "queued" | "running" | ...`."""
    step, state = body.get("at_step"), body.get("in_state")
    if step is not None and state is not None:
        raise errors.invalid("Give at_step or in_state, not both.", "at_step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, int):
            raise errors.invalid_type("at_step", "an integer", json_type_name(step))
        return FailurePoint(step=step)
    if state is not None:
        if not isinstance(state, str):
            raise errors.invalid_type("in_state", "a string", json_type_name(state))
        return FailurePoint(state=state)
    return None


def _job_control(kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        service = service_of(request)
        job_id = request.path_params["job_id"]
        org, _ = service.jobs.find(job_id)
        view = await settled(request, lambda: service.jobs.intervene(org, job_id, kind))
        return api_json(wire.job(view))

    return endpoint


routes += [
    Route("/jobs/{job_id}/fail", fail_job, methods=["POST"]),
    Route("/jobs/{job_id}/complete", _job_control(lifecycle.COMPLETE), methods=["POST"]),
    Route("/jobs/{job_id}/hold", _job_control(lifecycle.HOLD), methods=["POST"]),
    Route("/jobs/{job_id}/release", _job_control(lifecycle.RELEASE), methods=["POST"]),
]


# --- chaos and the request log -----------------------------------------------------------


def chaos_of(request: Request) -> Chaos:
    chaos: Chaos = request.app.state.chaos
    return chaos


def request_log_of(request: Request) -> RequestLog:
    log: RequestLog = request.app.state.requests
    return log


def rule_not_found(rule_id: str) -> errors.APIError:
    return errors.APIError(404, f"No such chaos rule: {rule_id}", param="rule_id")


async def add_chaos(request: Request) -> Response:
    rule = chaos_of(request).add(await parse_body(request, ChaosSpec))
    return api_json(rule.to_dict())


async def list_chaos(request: Request) -> Response:
    rules = chaos_of(request).rules()
    return api_json({"object": "list", "data": [r.to_dict() for r in rules]})


async def clear_chaos(request: Request) -> Response:
    return api_json({"object": "list", "deleted": chaos_of(request).clear()})


async def delete_chaos_rule(request: Request) -> Response:
    rule_id = request.path_params["rule_id"]
    if not chaos_of(request).remove(rule_id):
        raise rule_not_found(rule_id)
    return api_json({"object": RULE_OBJECT, "id": rule_id, "deleted": True})


async def list_requests(request: Request) -> Response:
    entries = request_log_of(request).entries()
    return api_json({"object": "list", "data": [e.to_dict() for e in entries]})


async def clear_requests(request: Request) -> Response:
    return api_json({"object": "list", "deleted": request_log_of(request).clear()})


routes += [
    Route("/chaos", add_chaos, methods=["POST"]),
    Route("/chaos", list_chaos, methods=["GET"]),
    Route("/chaos", clear_chaos, methods=["DELETE"]),
    Route("/chaos/{rule_id}", delete_chaos_rule, methods=["DELETE"]),
    Route("/requests", list_requests, methods=["GET"]),
    Route("/requests", clear_requests, methods=["DELETE"]),
]
