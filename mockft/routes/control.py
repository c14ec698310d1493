"""The control API under /mockft/: not part of OpenAI's surface. Each endpoint parses its
body and calls one function of the control backend (`service/control.py`) with the caller
the envelope authenticated."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft import __version__, errors
from mockft.auth import Caller
from mockft.chaos import serving_stack
from mockft.job_record import JobView
from mockft.routes.common import (
    api_json,
    json_body,
    parse_body,
    read_body,
    service_of,
    settled,
)
from mockft.schemas import json_type_name
from mockft.service import ChaosSpec, Control, FailJob, RegisterWandbKey, SetLimits
from mockft.wire import jobs as wire

LIST = "list"


def caller_of(request: Request) -> Caller:
    caller: Caller = request.state.caller
    return caller


def control_of(request: Request) -> Control:
    return service_of(request).control


async def health(request: Request) -> Response:
    service = service_of(request)
    return api_json(
        {
            "status": "ok",
            "version": __version__,
            "clock": service.clock.mode,
            "stack": serving_stack(),  # what serves: uvicorn's parser and loop, or in-process
        }
    )


async def reset(request: Request) -> Response:
    """Back to a fresh server (or, for an organization's key, a fresh organization)."""
    control_of(request).reset(caller_of(request))
    return api_json({"reset": True})


async def clock(request: Request) -> Response:
    return api_json(control_of(request).clock(caller_of(request)))


def _number(body: dict[str, object], name: str) -> float:
    """A JSON number as parsed (an integer of any size, or a finite float); the clock
    checks its range."""
    value = body.get(name)
    if value is None:
        raise errors.missing_param(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.invalid_type(name, "a number", json_type_name(value))
    return value


def _only(body: dict[str, object], *names: str) -> None:
    extra = sorted(set(body) - set(names))
    if extra:
        raise errors.unknown_param(extra[0])


async def advance_clock(request: Request) -> Response:
    body = await json_body(request)
    _only(body, "seconds")
    moved = control_of(request).advance(caller_of(request), _number(body, "seconds"))
    await service_of(request).delivery.settle()  # the webhooks the move made due, sent
    return api_json(moved)


async def set_clock(request: Request) -> Response:
    body = await json_body(request)
    _only(body, "now", "speed")
    now = _number(body, "now") if "now" in body else None
    speed = _number(body, "speed") if "speed" in body else None
    moved = control_of(request).set_clock(caller_of(request), now=now, speed=speed)
    await service_of(request).delivery.settle()
    return api_json(moved)


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/reset", reset, methods=["POST"]),
    Route("/clock", clock, methods=["GET"]),
    Route("/clock", set_clock, methods=["POST"]),
    Route("/clock/advance", advance_clock, methods=["POST"]),
]


async def fail_job(request: Request) -> Response:
    failure = await parse_body(request, FailJob)
    control, caller, job_id = control_of(request), caller_of(request), request.path_params["job_id"]
    view = await settled(request, lambda: control.fail_job(caller, job_id, failure))
    return api_json(wire.job(view))


JobAction = Callable[[Control, Caller, str], JobView]


def _job_control(action: JobAction) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        control, caller = control_of(request), caller_of(request)
        job_id = request.path_params["job_id"]
        view = await settled(request, lambda: action(control, caller, job_id))
        return api_json(wire.job(view))

    return endpoint


routes += [
    Route("/jobs/{job_id}/fail", fail_job, methods=["POST"]),
    Route("/jobs/{job_id}/complete", _job_control(Control.complete_job), methods=["POST"]),
    Route("/jobs/{job_id}/hold", _job_control(Control.hold_job), methods=["POST"]),
    Route("/jobs/{job_id}/release", _job_control(Control.release_job), methods=["POST"]),
]


# --- chaos and the request log -----------------------------------------------------------


async def add_chaos(request: Request) -> Response:
    spec = await parse_body(request, ChaosSpec)
    return api_json(control_of(request).add_chaos(caller_of(request), spec).to_dict())


async def list_chaos(request: Request) -> Response:
    rules = control_of(request).chaos_rules(caller_of(request))
    return api_json({"object": LIST, "data": [r.to_dict() for r in rules]})


async def clear_chaos(request: Request) -> Response:
    return api_json(
        {"object": LIST, "deleted": control_of(request).clear_chaos(caller_of(request))}
    )


async def delete_chaos_rule(request: Request) -> Response:
    rule_id = request.path_params["rule_id"]
    return api_json(control_of(request).remove_chaos(caller_of(request), rule_id))


async def list_requests(request: Request) -> Response:
    entries = control_of(request).logged_requests(caller_of(request))
    return api_json({"object": LIST, "data": [e.to_dict() for e in entries]})


async def clear_requests(request: Request) -> Response:
    deleted = control_of(request).clear_requests(caller_of(request))
    return api_json({"object": LIST, "deleted": deleted})


# --- scenarios -----------------------------------------------------------------------------

JSON_TYPE = "application/json"
TOML_TYPE = "application/toml"
MAX_SOURCE_NAME = 200


async def load_scenario(request: Request) -> Response:
    """A scenario in the body: TOML, or JSON with a JSON content type. `?source=NAME` names
    it in the problems (default `scenario.toml`)."""
    limit = service_of(request).settings.max_json_bytes
    raw = await read_body(request, limit)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.invalid("A scenario is UTF-8 text.", "body", "invalid_scenario") from None
    is_json = request.headers.get("content-type", "").split(";")[0].strip() == JSON_TYPE
    fmt = "json" if is_json else "toml"
    source = request.query_params.get("source") or f"scenario.{fmt}"
    control, caller = control_of(request), caller_of(request)
    load = functools.partial(
        control.load_scenario, caller, text, fmt=fmt, source=source[:MAX_SOURCE_NAME]
    )
    return api_json(await anyio.to_thread.run_sync(load))


async def export_scenario(request: Request) -> Response:
    control, caller = control_of(request), caller_of(request)
    text = await anyio.to_thread.run_sync(control.export_scenario, caller)
    return Response(text, media_type=TOML_TYPE)


routes += [
    Route("/scenario", load_scenario, methods=["POST"]),
    Route("/scenario", export_scenario, methods=["GET"]),
]


routes += [
    Route("/chaos", add_chaos, methods=["POST"]),
    Route("/chaos", list_chaos, methods=["GET"]),
    Route("/chaos", clear_chaos, methods=["DELETE"]),
    Route("/chaos/{rule_id}", delete_chaos_rule, methods=["DELETE"]),
    Route("/requests", list_requests, methods=["GET"]),
    Route("/requests", clear_requests, methods=["DELETE"]),
]


# --- W&B credentials and limits ----------------------------------------------------------


async def list_wandb_keys(request: Request) -> Response:
    keys = control_of(request).wandb_keys(caller_of(request))
    return api_json({"object": LIST, "data": [k.to_dict() for k in keys]})


async def register_wandb_key(request: Request) -> Response:
    body = await parse_body(request, RegisterWandbKey)
    return api_json(control_of(request).register_wandb_key(caller_of(request), body).to_dict())


async def remove_wandb_key(request: Request) -> Response:
    organization = request.query_params.get("organization")
    return api_json(control_of(request).remove_wandb_key(caller_of(request), organization))


async def limits(request: Request) -> Response:
    return api_json(control_of(request).limits(caller_of(request)))


async def set_limits(request: Request) -> Response:
    body = await parse_body(request, SetLimits)
    return api_json(control_of(request).set_limits(caller_of(request), body))


routes += [
    Route("/wandb", list_wandb_keys, methods=["GET"]),
    Route("/wandb", register_wandb_key, methods=["POST"]),
    Route("/wandb", remove_wandb_key, methods=["DELETE"]),
    Route("/limits", limits, methods=["GET"]),
    Route("/limits", set_limits, methods=["POST"]),
]
