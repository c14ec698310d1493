"""The ASGI side of fault injection and of the request log: middleware that answers the
requests a chaos rule fires for (an error, added latency, a dropped connection, a request
held until the client gives up), and middleware that logs every request as the client saw
it. The rules themselves are `mockft.service.chaos`; the log, `mockft.service.request_log`.
"""

from __future__ import annotations

import asyncio

import anyio
import anyio.lowlevel
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockft.auth import Organization
from mockft.service.chaos import (
    MODEL_CALL_PATHS,
    OUTSIDE_API,
    RATE_LIMIT_STATUS,
    Chaos,
    chaos_error,
)
from mockft.service.request_log import LoggedRequest, RequestLog

# Where a request carries its request-log entry (ASGI scope["state"]).
LOG_ENTRY_KEY = "mockft.request_log_entry"


def _server_cycle() -> object | None:
    """The uvicorn request-response cycle answering the current request, if uvicorn serves
    it: uvicorn runs each request in a task whose coroutine is the cycle's `run_asgi`."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return None
    frame = getattr(task.get_coro(), "cr_frame", None) if task is not None else None
    owner: object = frame.f_locals.get("self") if frame is not None else None
    if owner is None or not type(owner).__module__.startswith("uvicorn."):
        return None
    return owner


def _server_transport() -> asyncio.BaseTransport | None:
    """The connection of the request being answered, when uvicorn serves it.

    ASGI has no message for "close without answering", so a dropped connection is the
    one fault that needs the server: the cycle holds the socket's transport. Anywhere else
    (the in-process transports of mockft.transport) the app simply returns without a
    response, which those transports report as a dropped connection."""
    transport = getattr(_server_cycle(), "transport", None)
    return transport if isinstance(transport, asyncio.BaseTransport) else None


def serving_stack() -> dict[str, str]:
    """What answers the current request: uvicorn's HTTP protocol (httptools or h11) and the
    event loop, or "in-process" (an SDK transport calling the app directly)."""
    loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]
    cycle = _server_cycle()
    if cycle is None:
        return {"server": "in-process", "loop": loop}
    module = type(cycle).__module__  # uvicorn.protocols.http.<impl>_impl
    http = module.rpartition(".")[2].removesuffix("_impl")
    return {"server": "uvicorn", "http": http, "loop": loop}


async def drop_connection() -> None:
    transport = _server_transport()
    if transport is None:
        return
    if isinstance(transport, asyncio.WriteTransport):
        transport.abort()
    else:
        transport.close()
    # Let the server see the connection go before the app returns, so that it does not
    # try to answer the request itself.
    await anyio.lowlevel.checkpoint()


async def _hold(receive: Receive, seconds: float) -> None:
    """Until the client disconnects (gives up) or `seconds` pass."""
    with anyio.move_on_after(seconds):
        while (await receive())["type"] != "http.disconnect":
            pass


async def _requested_model(receive: Receive, limit: int) -> str | None:
    """The `model` a JSON request body names, the body read whole but never more than
    `limit` bytes of it; None for a longer body or one that names no model as a string.
    (The request is answered by chaos: nothing else reads the body.)"""
    body = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        more = bool(message.get("more_body", False))
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, str) else None


class ChaosMiddleware:
    """Answers the requests a rule fires for. Sits inside the envelope middleware, which
    authenticates first (so a rule sees the request's organization) and renders the
    `APIError`s raised here."""

    def __init__(self, app: ASGIApp, chaos: Chaos, default_org: str, max_body_bytes: int) -> None:
        self.app = app
        self.chaos = chaos
        self.default_org = default_org
        # The most of a model call's body a 429 reads to learn the model (the JSON limit).
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        org = state.get("org")
        org_id = org.id if isinstance(org, Organization) else None
        rule = self.chaos.pick(scope["method"], scope["path"], org_id)
        if rule is None:
            await self.app(scope, receive, send)
            return
        entry = state.get(LOG_ENTRY_KEY)
        if isinstance(entry, LoggedRequest):
            entry.chaos_rule = rule.id
        spec = rule.spec
        if spec.latency_ms:
            await anyio.sleep(spec.latency_ms / 1000)
        if spec.status is not None:
            model = None
            if spec.status == RATE_LIMIT_STATUS and scope["path"] in MODEL_CALL_PATHS:
                model = await _requested_model(receive, self.max_body_bytes)
            raise chaos_error(spec, spec.status, org_id or self.default_org, model)
        if spec.drop:
            await drop_connection()
            return
        if spec.timeout:
            await _hold(receive, spec.hold_seconds)
            await drop_connection()
            return
        await self.app(scope, receive, send)


class RequestLogMiddleware:
    """Logs each request's method, path, status and `x-request-id`, as the client sees
    them (it sits outside the envelope middleware), and whether chaos answered it. The
    envelope names the entry's organization once the key is known."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(OUTSIDE_API):
            await self.app(scope, receive, send)
            return
        entry = self.log.open(scope["method"], scope["path"])
        scope.setdefault("state", {})[LOG_ENTRY_KEY] = entry

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                for name, value in reversed(message.get("headers", [])):
                    if name.lower() == b"x-request-id":  # the envelope adds it last
                        entry.request_id = value.decode("latin-1")
                        break
                entry.status = int(message["status"])
            await send(message)

        await self.app(scope, receive, recording_send)
