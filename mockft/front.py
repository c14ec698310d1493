"""The front door: the one pure-ASGI layer every HTTP request passes before the router.

In the order a request meets them (one layer, so one call and one `send` wrapper for all):

1. the request log (every request outside the control API, as the client saw it);
2. authentication (the organization, and on the control API the caller, go into the
   request's state);
3. chaos (a rule may answer instead: an error, added latency, a dropped connection);
4. kept answers: a poll (GET of a job, its events or checkpoints, the job list, a file)
   whose reads have not changed is answered with the bytes answered before. An answer is
   kept while the store's version is the one it was read at and the clock is before the
   instant at which something it read changes by itself (`service.Lasting`: a job's next
   planned instant, a file's expiry); only routes that declare their reads `lasting()`
   are kept, and only their 200s;
5. the router, with a request body that stalls abandoned (408) after `body_timeout`;
6. the headers the real API sends on every answer (`openai-organization`,
   `openai-processing-ms`, `openai-version`, `x-request-id`), and the one error path:
   whatever escapes becomes OpenAI's error envelope, never a traceback.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
import time
from random import getrandbits
from typing import Any

import anyio
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockft import errors
from mockft.auth import KeyRing
from mockft.chaos import LOG_ENTRY_KEY, drop_connection, hold, requested_model
from mockft.routes.common import error_response
from mockft.service import Lasting, Service
from mockft.service.chaos import MODEL_CALL_PATHS, OUTSIDE_API, RATE_LIMIT_STATUS, chaos_error
from mockft.service.request_log import LoggedRequest

OPENAI_VERSION = "2020-10-01"
VERSION_HEADER = (b"openai-version", OPENAI_VERSION.encode())
JSON_HEADERS = (b"content-type", b"application/json")
PUBLIC_PATHS = frozenset({"/mockft/health"})
API_PREFIX = "/v1/"
CONTROL_PREFIX = "/mockft/"
# Methods whose body the routes read: only theirs is timed (a GET's is never read).
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13  # sqlite3.SQLITE_FULL (Python 3.11+)
# Kept answers: at most this many, and this many bytes of bodies (then all are dropped).
MAX_KEPT_ANSWERS = 4096
MAX_KEPT_BYTES = 32 * 1024 * 1024
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that left before its answer
log = logging.getLogger("mockft")


class _Kept:
    __slots__ = ("body", "length", "until", "version")

    def __init__(self, version: int, until: int, body: bytes) -> None:
        self.version = version
        self.until = until
        self.body = body
        self.length = b"%d" % len(body)


class Answers:
    """Answers kept for polls, keyed by what names them and who asked (path, query, and
    the credentials' headers)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], _Kept] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], version: int, now: int) -> _Kept | None:
        kept = self._kept.get(key)
        if kept is None or kept.version != version or now >= kept.until:
            return None
        return kept

    def put(self, key: tuple[Any, ...], kept: _Kept) -> None:
        with self._lock:
            if len(self._kept) >= MAX_KEPT_ANSWERS or self._bytes > MAX_KEPT_BYTES:
                self._kept.clear()
                self._bytes = 0
            old = self._kept.get(key)
            if old is not None:
                self._bytes -= len(old.body)
            self._kept[key] = kept
            self._bytes += len(kept.body)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._bytes = 0


class _Reply:
    """The `send` of one request: stamps the response's start with the headers the real
    API sends, notes the status in the request log, and (for a keepable answer) the body."""

    __slots__ = ("body", "entry", "keep", "org", "request_id", "send", "started", "status")

    def __init__(self, send: Send, started: float, org: bytes, entry: LoggedRequest | None):
        self.send = send
        self.started = started
        self.org = org
        self.entry = entry
        self.request_id = b"req_%032x" % getrandbits(128)
        self.status = 0
        self.keep = False
        self.body: bytes | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        elapsed = int((time.perf_counter() - self.started) * 1000)
        return [
            (b"openai-organization", self.org),
            (b"openai-processing-ms", b"%d" % elapsed),
            VERSION_HEADER,
            (b"x-request-id", self.request_id),
        ]

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = status = message["status"]
            message = {**message, "headers": [*message.get("headers", ()), *self.headers()]}
            entry = self.entry
            if entry is not None:
                entry.request_id = self.request_id.decode()
                entry.status = status
        elif self.keep and kind == "http.response.body":
            if self.body is None and not message.get("more_body", False):
                self.body = message.get("body", b"")
            else:  # streamed: not kept
                self.keep = False
        await self.send(message)

    def kept_headers(self, kept: _Kept) -> list[tuple[bytes, bytes]]:
        """The headers of a kept answer (as the route's own), noted in the request log."""
        self.status = 200
        entry = self.entry
        if entry is not None:
            entry.request_id = self.request_id.decode()
            entry.status = 200
        return [(b"content-length", kept.length), JSON_HEADERS, *self.headers()]

    async def answer(self, kept: _Kept) -> None:
        """A kept answer, with this request's headers."""
        headers = self.kept_headers(kept)
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})
        await self.send({"type": "http.response.body", "body": kept.body})


class Front:
    """See the module docstring. `app` is what routes the request (Starlette's exception
    middleware and router)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self.requests = service.control.requests
        self.chaos = service.control.chaos
        self.clock = service.ctx
        self.store = service.store
        self.body_timeout = service.settings.body_timeout
        # The most of a model call's body a chaos 429 reads to learn the model.
        self.max_body_bytes = service.settings.max_json_bytes
        self.answers = Answers()
        self._org_names: dict[str, bytes] = {}

    @property
    def keys(self) -> KeyRing:
        """The service's key ring as it is now (a scenario loaded at run time adds keys)."""
        return self.service.keys

    def _org_header(self, name: str) -> bytes:
        encoded = self._org_names.get(name)
        if encoded is None:
            encoded = self._org_names[name] = name.encode()
        return encoded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        entry = None
        if not path.startswith(OUTSIDE_API):
            entry = self.requests.open(method, path)
            state[LOG_ENTRY_KEY] = entry
        reply = _Reply(send, started, self._org_header(self.keys.default.name), entry)
        try:
            await self._handle(scope, receive, reply, state, path, method, entry)
        except errors.APIError as exc:
            if reply.status:
                raise
            await error_response(exc)(scope, receive, reply)
        except ClientDisconnect:
            # The client went away before its body was whole: a client's fault, with no one
            # left to answer. Logged as nginx logs it (499), not as a server error.
            log.info("client closed the connection during %s %s", method, path)
            if entry is not None and not reply.status:
                entry.status = CLIENT_CLOSED_REQUEST
        except Exception as exc:
            if reply.status:
                raise
            if _disk_full(exc):
                log.warning("disk full on %s %s: %s", method, path, exc)
                await error_response(errors.disk_full())(scope, receive, reply)
                return
            log.exception("unhandled error on %s %s", method, path)
            await error_response(errors.server_error())(scope, receive, reply)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        reply: _Reply,
        state: dict[str, Any],
        path: str,
        method: str,
        entry: LoggedRequest | None,
    ) -> None:
        org_id: str | None = None
        credentials: tuple[bytes | None, ...] = ()
        if path not in PUBLIC_PATHS:
            credentials = _credentials(scope)
            org = self._authenticate(state, method, path, credentials)
            if org is not None:
                org_id = org.id
                reply.org = self._org_header(org.name)
                state["org"] = org
                if entry is not None:
                    entry.org = org.id
        if method in BODY_METHODS:
            receive = _timed(receive, self.body_timeout)
        rule = self.chaos.pick(method, path, org_id)
        if rule is not None:
            if entry is not None:
                entry.chaos_rule = rule.id
            spec = rule.spec
            if spec.latency_ms:
                await anyio.sleep(spec.latency_ms / 1000)
            if spec.status is not None:
                model = None
                if spec.status == RATE_LIMIT_STATUS and path in MODEL_CALL_PATHS:
                    model = await requested_model(receive, self.max_body_bytes)
                raise chaos_error(spec, spec.status, org_id or self.keys.default.id, model)
            if spec.drop:
                await drop_connection()
                return
            if spec.timeout:
                await hold(receive, spec.hold_seconds)
                await drop_connection()
                return
        if method != "GET" or org_id is None:
            await self.app(scope, receive, reply)
            return
        key = (path, scope["query_string"], *credentials)
        version = self.store.version
        kept = self.answers.get(key, version, self.clock.now())
        if kept is not None:
            await reply.answer(kept)
            return
        with Lasting() as lasting:
            reply.keep = True
            await self.app(scope, receive, reply)
        until = lasting.until
        if (
            until is not None
            and reply.status == 200
            and reply.body is not None
            and reply.keep
            and self.store.version == version
        ):
            self.answers.put(key, _Kept(version, until, reply.body))

    def answer_at_once(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """For an in-process sync client (`mockft.transport`): the kept answer to a poll,
        given on the caller's thread without a hop to the event loop's (status, headers,
        body); None when the request needs the loop (no kept answer, chaos rules are
        live, or the credentials fail: the loop's path answers those). Logged and stamped
        as the loop's path would."""
        path: str = scope["path"]
        if scope["method"] != "GET" or not self.chaos.idle or path.startswith(OUTSIDE_API):
            return None
        credentials = _credentials(scope)
        key = (path, scope["query_string"], *credentials)
        kept = self.answers.get(key, self.store.version, self.clock.now())
        if kept is None:
            return None
        try:
            org = self._authenticate({}, "GET", path, credentials)
        except errors.APIError:
            return None
        if org is None:
            return None
        entry = self.requests.open("GET", path)
        entry.org = org.id
        reply = _Reply(_no_send, time.perf_counter(), self._org_header(org.name), entry)
        return 200, reply.kept_headers(kept), kept.body

    def _authenticate(
        self,
        state: dict[str, Any],
        method: str,
        path: str,
        credentials: tuple[bytes | None, ...],
    ) -> Any:
        """The organization the request acts for (None outside /v1 and the control API);
        on the control API, the caller goes into the request's state, on /v1 the identity
        (project, admin key), once the key is found to have the operation's scope."""
        authorization, organization = (_text(c) for c in credentials[:2])
        if path.startswith(CONTROL_PREFIX):
            caller = self.keys.authenticate_control(authorization, organization)
            state["caller"] = caller
            return caller.org
        if path.startswith(API_PREFIX):
            project = _text(credentials[2])
            identity = self.keys.identify(authorization, organization, project)
            self.keys.authorize(identity, method, path)
            state["identity"] = identity
            return identity.org
        return None


async def _no_send(message: Message) -> None:
    raise RuntimeError("an answer given at once is returned, not sent")


# The request headers that say who is asking: an answer is kept per their values.
CREDENTIAL_HEADERS = (b"authorization", b"openai-organization", b"openai-project")


def _credentials(scope: Scope) -> tuple[bytes | None, ...]:
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in CREDENTIAL_HEADERS or name.lower() in CREDENTIAL_HEADERS:
            found.setdefault(name.lower(), bytes(value))
    return tuple(found.get(name) for name in CREDENTIAL_HEADERS)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _timed(receive: Receive, seconds: float) -> Receive:
    """A body that sends nothing for `seconds` is abandoned: the route reading it gets an
    APIError (408) where it waits, so what it was writing is aborted and deleted, and the
    connection is closed. Once the body is complete, `receive` (a wait for the client to
    disconnect) is passed through untouched."""
    body_done = False

    async def timed_receive() -> Message:
        nonlocal body_done
        if body_done:
            return await receive()
        with anyio.move_on_after(seconds) as idle:
            message = await receive()
        if idle.cancelled_caught:
            raise errors.body_timeout(seconds)
        if message["type"] != "http.request" or not message.get("more_body", False):
            body_done = True
        return message

    return timed_receive


def _disk_full(exc: BaseException) -> bool:
    """A write that failed for want of space: the blob store's OSError, or SQLite's."""
    for error in (exc, exc.__cause__, exc.__context__):
        if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
            return True
        if isinstance(error, sqlite3.OperationalError) and (
            getattr(error, "sqlite_errorcode", None) == SQLITE_FULL
            or "database or disk is full" in str(error)
        ):
            return True
    return False
