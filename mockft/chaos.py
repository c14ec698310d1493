"""Fault injection for the OpenAI surface, and the request log that makes retries visible.

A rule says which requests it hits (a glob or regex on the path, optionally a method; never
the control API under /mockft/), when (the next N matching requests, each with a seeded
probability, or both), and what happens instead of the normal answer: an error status in
OpenAI's envelope with the headers the SDK's retry logic reads, added latency, a dropped
connection, or a request held until the client gives up. Rules are kept in memory, not in
the store: they describe the transport, not the data.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
import re
import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Literal

import anyio
import anyio.lowlevel
from pydantic import Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockft import errors
from mockft.schemas import Request, parse

CONTROL_PREFIX = "/mockft/"
# Not OpenAI's surface: the control API and the dashboard are neither logged nor hit by a
# rule (a rule on "*" must not keep the operator from removing it).
OUTSIDE_API = (CONTROL_PREFIX, "/dashboard")
DEFAULT_PATH = "/v1/*"
RULE_PREFIX = "chaos_"
RULE_OBJECT = "mockft.chaos_rule"
REQUEST_OBJECT = "mockft.request"
# Longer than the openai SDK's default 600 s timeout, so a held request outlives the client.
DEFAULT_HOLD_SECONDS = 900.0
MAX_HOLD_SECONDS = 86_400.0
MAX_LATENCY_MS = 600_000
MAX_LOGGED_REQUESTS = 10_000
# Where a request carries its request-log entry (ASGI scope["state"]).
LOG_ENTRY_KEY = "mockft.request_log_entry"

RATE_LIMIT_STATUS = 429
# The figures the 429 message and x-ratelimit-* headers quote (requests per minute).
RATE_LIMIT_RPM = 60
RATE_LIMIT_DOCS = "https://platform.openai.com/account/rate-limits"
RATE_LIMIT_MESSAGE = (
    "Rate limit reached for organization {org} on requests per min (RPM): Limit {limit}, "
    "Used {limit}, Requested 1. Please try again in {wait}. Visit {docs} to learn more."
)
DEFAULT_RATE_LIMIT_WAIT_MS = 1_000


@dataclass(frozen=True)
class ErrorShape:
    message: str
    type: str
    code: str | None = None


# The bodies the real API (and its edge) send with these statuses.
ERROR_SHAPES: dict[int, ErrorShape] = {
    RATE_LIMIT_STATUS: ErrorShape(RATE_LIMIT_MESSAGE, "requests", "rate_limit_exceeded"),
    500: ErrorShape(errors.SERVER_ERROR_MESSAGE, errors.SERVER_ERROR),
    502: ErrorShape("Bad gateway.", "cf_bad_gateway"),
    503: ErrorShape("The server is overloaded or not ready yet.", errors.SERVER_ERROR),
    504: ErrorShape("Gateway timeout.", "cf_gateway_timeout"),
}
ChaosStatus = Literal[429, 500, 502, 503, 504]


class ChaosSpec(Request):
    """A rule as the control API and the pytest handle accept it."""

    path: str | None = None
    """Glob on the request path (`fnmatch`, `*` crosses `/`); default `/v1/*`."""
    path_regex: str | None = None
    """Regular expression searched in the request path (instead of `path`)."""
    method: str | None = None
    times: int | None = Field(default=None, ge=1)
    """Only the next N matching requests (that the probability lets through)."""
    probability: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = Field(default=None, ge=0)
    """Seed of this rule's `random.Random` (default: the server's seed)."""

    status: ChaosStatus | None = None
    message: str | None = None
    retry_after: float | None = Field(default=None, ge=0)
    retry_after_ms: int | None = Field(default=None, ge=0)
    should_retry: bool | None = None
    latency_ms: int = Field(default=0, ge=0, le=MAX_LATENCY_MS)
    drop: bool = False
    timeout: bool = False
    hold_seconds: float = Field(default=DEFAULT_HOLD_SECONDS, gt=0, le=MAX_HOLD_SECONDS)

    @property
    def fault(self) -> str:
        if self.status is not None:
            return "error"
        if self.drop:
            return "drop"
        if self.timeout:
            return "timeout"
        return "latency"


def _check(spec: ChaosSpec) -> re.Pattern[str] | None:
    """The rules a field-by-field parse cannot express; the compiled `path_regex`."""
    chosen = [name for name in ("status", "drop", "timeout") if getattr(spec, name)]
    if len(chosen) > 1:
        raise errors.invalid(
            f"A chaos rule has one fault; got {' and '.join(chosen)}.", chosen[1], "invalid_value"
        )
    if not chosen and spec.latency_ms == 0:
        raise errors.invalid(
            "A chaos rule needs a fault: 'status', 'drop', 'timeout' or 'latency_ms'.",
            "status",
            "missing_required_parameter",
        )
    if spec.status is None:
        for name in ("retry_after", "retry_after_ms", "should_retry", "message"):
            if getattr(spec, name) is not None:
                raise errors.invalid(f"'{name}' only applies to a rule with a 'status'.", name)
    if spec.path is not None and spec.path_regex is not None:
        raise errors.invalid("Give either 'path' or 'path_regex', not both.", "path_regex")
    if spec.path_regex is None:
        return None
    try:
        return re.compile(spec.path_regex)
    except re.error as exc:
        raise errors.invalid(
            f"Invalid 'path_regex': {exc}.", "path_regex", "invalid_value"
        ) from None


@dataclass
class ChaosRule:
    id: str
    spec: ChaosSpec
    regex: re.Pattern[str] | None
    rng: random.Random
    remaining: int | None
    matched: int = 0
    injected: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.spec.method is not None and self.spec.method.upper() != method.upper():
            return False
        if self.regex is not None:
            return self.regex.search(path) is not None
        return fnmatch.fnmatchcase(path, self.spec.path or DEFAULT_PATH)

    def fires(self) -> bool:
        """Called for each matching request, in order; the seeded draw happens for every
        match while the rule is live, so the same request sequence gives the same faults."""
        if self.remaining == 0:
            return False
        self.matched += 1
        probability = self.spec.probability
        if probability is not None and self.rng.random() >= probability:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        self.injected += 1
        return True

    @property
    def exhausted(self) -> bool:
        return self.remaining == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": RULE_OBJECT,
            "id": self.id,
            "fault": self.spec.fault,
            **self.spec.model_dump(),
            "path": self.spec.path or (None if self.regex else DEFAULT_PATH),
            "remaining": self.remaining,
            "matched": self.matched,
            "injected": self.injected,
        }


class Chaos:
    """The live rules of one app. Thread-safe: the pytest handle adds rules from the test's
    thread while requests are answered on the event loop's."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rules: list[ChaosRule] = []
        self._lock = threading.Lock()
        self._next_id = 1

    def add(self, spec: ChaosSpec) -> ChaosRule:
        regex = _check(spec)
        seed = self._seed if spec.seed is None else spec.seed
        with self._lock:
            rule = ChaosRule(
                id=f"{RULE_PREFIX}{self._next_id}",
                spec=spec,
                regex=regex,
                rng=random.Random(seed),
                remaining=spec.times,
            )
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def add_from(self, data: dict[str, Any]) -> ChaosRule:
        return self.add(parse(ChaosSpec, data))

    def rules(self) -> list[ChaosRule]:
        with self._lock:
            return list(self._rules)

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            kept = [r for r in self._rules if r.id != rule_id]
            removed = len(kept) != len(self._rules)
            self._rules = kept
        return removed

    def clear(self) -> int:
        with self._lock:
            count = len(self._rules)
            self._rules = []
        return count

    def pick(self, method: str, path: str) -> ChaosRule | None:
        """The first rule, in the order they were added, that fires for this request."""
        if not self._rules or path.startswith(OUTSIDE_API):
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path) and rule.fires():
                    return rule
        return None


def _wait_text(milliseconds: float) -> str:
    if milliseconds < 1000:
        return f"{milliseconds:g}ms"
    return f"{milliseconds / 1000:g}s"


def chaos_error(spec: ChaosSpec, status: int, org_id: str) -> errors.APIError:
    """The error a rule with a `status` answers with, in OpenAI's envelope and headers."""
    shape = ERROR_SHAPES[status]
    headers: dict[str, str] = {}
    if spec.retry_after is not None:
        headers["retry-after"] = f"{spec.retry_after:g}"
    if spec.retry_after_ms is not None:
        headers["retry-after-ms"] = str(spec.retry_after_ms)
    if spec.should_retry is not None:
        headers["x-should-retry"] = "true" if spec.should_retry else "false"
    message = shape.message
    if status == RATE_LIMIT_STATUS:
        wait_ms: float = DEFAULT_RATE_LIMIT_WAIT_MS
        if spec.retry_after_ms is not None:
            wait_ms = spec.retry_after_ms
        elif spec.retry_after is not None:
            wait_ms = spec.retry_after * 1000
        wait = _wait_text(wait_ms)
        message = message.format(org=org_id, limit=RATE_LIMIT_RPM, wait=wait, docs=RATE_LIMIT_DOCS)
        headers |= {
            "x-ratelimit-limit-requests": str(RATE_LIMIT_RPM),
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": wait,
        }
    return errors.APIError(
        status,
        spec.message or message,
        type=shape.type,
        code=shape.code,
        headers=headers,
    )


def _server_transport() -> asyncio.BaseTransport | None:
    """The connection of the request being answered, when uvicorn serves it.

    ASGI has no message for "close without answering", so a dropped connection is the
    one fault that needs the server: uvicorn runs each request in a task whose coroutine
    is its `RequestResponseCycle.run_asgi`, and the cycle holds the socket's transport.
    Anywhere else (the in-process transports of mockft.transport) the app simply returns
    without a response, which those transports report as a dropped connection."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return None
    frame = getattr(task.get_coro(), "cr_frame", None) if task is not None else None
    owner = frame.f_locals.get("self") if frame is not None else None
    if owner is None or not type(owner).__module__.startswith("uvicorn."):
        return None
    transport = getattr(owner, "transport", None)
    return transport if isinstance(transport, asyncio.BaseTransport) else None


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


class ChaosMiddleware:
    """Answers the requests a rule fires for. Sits inside the envelope middleware, which
    authenticates first and renders the `APIError`s raised here."""

    def __init__(self, app: ASGIApp, chaos: Chaos, default_org: str) -> None:
        self.app = app
        self.chaos = chaos
        self.default_org = default_org

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self.chaos.pick(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        entry = state.get(LOG_ENTRY_KEY)
        if isinstance(entry, LoggedRequest):
            entry.chaos_rule = rule.id
        spec = rule.spec
        if spec.latency_ms:
            await anyio.sleep(spec.latency_ms / 1000)
        if spec.status is not None:
            org = state.get("org")
            raise chaos_error(spec, spec.status, org.id if org is not None else self.default_org)
        if spec.drop:
            await drop_connection()
            return
        if spec.timeout:
            await _hold(receive, spec.hold_seconds)
            await drop_connection()
            return
        await self.app(scope, receive, send)


# --- the request log ---------------------------------------------------------------------


@dataclass(slots=True)
class LoggedRequest:
    seq: int
    method: str
    path: str
    status: int | None = None
    """None when no response was sent (a dropped or held connection)."""
    chaos_rule: str | None = None
    request_id: str | None = None

    @property
    def chaos(self) -> bool:
        return self.chaos_rule is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": REQUEST_OBJECT,
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "chaos": self.chaos,
            "chaos_rule": self.chaos_rule,
            "request_id": self.request_id,
        }


class RequestLog:
    """The last `limit` requests outside the control API, oldest first.

    An entry is added when a request arrives and completed as its answer starts (or
    chaos takes it), so a client never sees an answer its entry does not show yet."""

    def __init__(self, limit: int = MAX_LOGGED_REQUESTS) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._next_seq = 1

    def open(self, method: str, path: str) -> LoggedRequest:
        with self._lock:
            entry = LoggedRequest(self._next_seq, method, path)
            self._next_seq += 1
            self._entries.append(entry)
        return entry

    def entries(self) -> list[LoggedRequest]:
        """Copies: entries of requests in flight still change."""
        with self._lock:
            return [replace(e) for e in self._entries]

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
        return count


class RequestLogMiddleware:
    """Logs each request's method, path, status and `x-request-id`, as the client sees
    them (it sits outside the envelope middleware), and whether chaos answered it."""

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
