"""The ASGI side of fault injection: dropping a connection and holding a request until the
client gives up (the front, `mockft.front`, answers the requests a chaos rule fires for;
the rules themselves are `mockft.service.chaos`), and what serves the current request."""

from __future__ import annotations

import asyncio

import anyio
import anyio.lowlevel
import orjson
from starlette.types import Receive

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
    # uvloop's transports quack like asyncio's without deriving from them.
    return transport if hasattr(transport, "close") else None


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
    cycle = _server_cycle()
    transport = _server_transport()
    if transport is None:
        return
    abort = getattr(transport, "abort", None)
    if callable(abort):
        abort()
    else:
        transport.close()
    # The server must not answer the request itself: both of uvicorn's protocols skip
    # their "returned without a response" 500 for a cycle marked disconnected, which
    # `connection_lost` does when the loop gets to it (asyncio's soon, uvloop's later).
    if hasattr(cycle, "disconnected"):
        cycle.disconnected = True
    await anyio.lowlevel.checkpoint()


async def hold(receive: Receive, seconds: float) -> None:
    """Until the client disconnects (gives up) or `seconds` pass."""
    with anyio.move_on_after(seconds):
        while (await receive())["type"] != "http.disconnect":
            pass


async def requested_model(receive: Receive, limit: int) -> str | None:
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
