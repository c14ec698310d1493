"""Webhooks: the `fine_tuning.job.succeeded`, `.failed` and `.cancelled` events, signed as
OpenAI signs them (Standard Webhooks) and delivered to the configured endpoints, with
retries on the real platform's schedule.

Nothing here changes a job. A job's end is computed from its plan (`lifecycle.ending`), and
the jobs keep a timer of it in the store (`jobs.END_TIMER`; `CHECK_TIMER` while the plan is
not known yet), so that finding the jobs that ended by an instant is one indexed read, not a
scan of every job. `collect(now)` turns the jobs that have ended by `now` into events and
deliveries, each delivery with a timer of its next attempt; `due(now)` hands out the
attempts that are due and `record` writes how each went. Everything is in the store, so a
restart loses no event that was due and sends none twice (but one whose answer it never
recorded: at least once, with the same `webhook-id`). The clock decides when: an event
exists once its job's end is in the past, and a retry is due on the virtual clock.
`service/delivery.py` sends the attempts.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field

from mockft import errors, lifecycle, synth, webhook_signing
from mockft.auth import Caller
from mockft.config import MAX_WEBHOOK_URL_LENGTH, webhook_url_ok
from mockft.pagination import PageRequest
from mockft.schemas import Request
from mockft.service.context import Context, Part
from mockft.service.jobs import CHECK_TIMER, END_TIMER, Jobs
from mockft.wire import webhooks as wire

log = logging.getLogger("mockft")

ENDPOINT = "webhook_endpoint"
EVENT = "webhook_event"
DELIVERY = "webhook_delivery"
DELIVERY_TIMER = "webhook.delivery"
DELIVERY_OBJECT = "mockft.webhook_delivery"
ENDPOINT_PREFIX = "we_"
DELIVERY_PREFIX = "whdel_"
EVENT_PREFIX = "evt_"
WEBHOOK_ID_PREFIX = "wh_"
ALL_ORGS = ""  # the owner of an endpoint that hears every organization's jobs
META_SECRET = "webhook.secret"
EVENT_OBJECT = "event"
EVENT_TYPES = {
    lifecycle.SUCCEEDED: "fine_tuning.job.succeeded",
    lifecycle.FAILED: "fine_tuning.job.failed",
    lifecycle.CANCELLED: "fine_tuning.job.cancelled",
}
EventType = Literal[
    "fine_tuning.job.succeeded", "fine_tuning.job.failed", "fine_tuning.job.cancelled"
]
# Seconds (of the virtual clock) before each retry: Standard Webhooks' reference schedule
# (Svix: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), continued every 10 h for as long
# as OpenAI retries, 72 hours: 12 attempts, the last 67.6 h after the first.
RETRY_DELAYS = (5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
MAX_ENDPOINTS = 100
BATCH = 256  # timers read per look; a round looks until none is due
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
SUCCESS_CODES = range(200, 300)  # anything else, a redirect included, is a failure


class EndpointSpec(Request):
    """An endpoint to add: `POST /mockft/webhooks`, the pytest handle's `webhooks.add`."""

    url: Annotated[str, Field(min_length=1, max_length=MAX_WEBHOOK_URL_LENGTH)]
    secret: Annotated[str, Field(max_length=webhook_signing.MAX_SECRET_LENGTH)] | None = None
    event_types: Annotated[list[EventType], Field(min_length=1)] | None = None


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    secret: str
    event_types: tuple[str, ...]
    created_at: int
    organization: str | None  # None: every organization's jobs
    configured: bool  # from --webhook (comes back on restart and reset)

    def hears(self, org_id: str, event_type: str, at: int) -> bool:
        return (
            self.organization in (None, org_id)
            and event_type in self.event_types
            and self.created_at <= at
        )

    def to_doc(self) -> dict[str, Any]:
        return wire.endpoint(self)  # stored as the control API shows it

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Endpoint:
        return cls(
            id=doc["id"],
            url=doc["url"],
            secret=doc["secret"],
            event_types=tuple(doc["event_types"]),
            created_at=int(doc["created_at"]),
            organization=doc.get("organization"),
            configured=bool(doc.get("configured")),
        )


@dataclass(frozen=True)
class Outgoing:
    """One attempt to make: what to send where, signed when it is sent."""

    delivery_id: str
    url: str
    secret: str
    webhook_id: str
    body: bytes
    attempt: int

    def headers(self, timestamp: int) -> dict[str, str]:
        signed = webhook_signing.headers(self.secret, self.webhook_id, timestamp, self.body)
        return {"content-type": "application/json", **signed}


@dataclass(frozen=True)
class Result:
    """How an attempt went: the response's status, or why there was none."""

    timestamp: int  # wall-clock seconds the attempt was signed with
    response_code: int | None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.response_code in SUCCESS_CODES


Receiver = Callable[[bytes, dict[str, str]], int]
"""An in-process endpoint (the pytest plugin's): takes the body and headers, answers a
status code."""


class Webhooks(Part):
    def __init__(self, ctx: Context, jobs: Jobs) -> None:
        super().__init__(ctx)
        self.jobs = jobs
        self.receivers: dict[str, Receiver] = {}
        self._endpoints: list[Endpoint] | None = None
        self._in_flight: set[str] = set()
        self._lock = threading.RLock()
        self.secret = self._secret()
        self.configure()

    # -- the endpoints ------------------------------------------------------------------------

    def _secret(self) -> str:
        """`--webhook-secret`, else the one this data dir was given before, else a new one
        (kept, so that a restart signs as before)."""
        if self.settings.webhook_secret:
            return self.settings.webhook_secret
        stored = self.store.get_meta(META_SECRET)
        if stored is not None and webhook_signing.secret_ok(stored):
            return stored
        secret = webhook_signing.new_secret(os.urandom(webhook_signing.SECRET_BYTES))
        try:
            self.store.set_meta(META_SECRET, secret)
        except Exception:  # a full disk must not keep the server from starting
            log.warning("could not store the webhook secret; it lasts until a restart")
        return secret

    def configure(self) -> None:
        """The endpoints of `--webhook`: each added (as of now) unless it exists; one no
        longer configured removed."""
        with self._lock:
            wanted = {_configured_id(url): url for url in self.settings.webhooks}
            now = self.now()
            for doc in self.store.scan(ENDPOINT, ALL_ORGS, now):
                if doc.get("configured") and doc["id"] not in wanted:
                    self.store.delete(ENDPOINT, doc["id"])
            for endpoint_id, url in wanted.items():
                if self.store.get(ENDPOINT, endpoint_id, None, now) is None:
                    endpoint = Endpoint(
                        endpoint_id, url, self.secret, tuple(EVENT_TYPES.values()), now, None, True
                    )
                    self.store.put(ENDPOINT, endpoint_id, ALL_ORGS, endpoint.to_doc())
            self._changed()

    def reset(self) -> None:
        """After the store forgot objects: the configured endpoints again, no receivers of
        endpoints that are gone."""
        with self._lock:
            self._endpoints = None
            self._in_flight.clear()
            self.configure()
            urls = {e.url for e in self.endpoints()}
            for url in list(self.receivers):
                if url not in urls:
                    del self.receivers[url]

    def endpoints(self, scope: str | None = None) -> list[Endpoint]:
        """Every endpoint (`scope` None), or those an organization's key sees: its own."""
        with self._lock:
            if self._endpoints is None:
                docs = self.store.scan(ENDPOINT, None, self.now())
                self._endpoints = [Endpoint.from_doc(d) for d in docs]
            found = self._endpoints
        return found if scope is None else [e for e in found if e.organization == scope]

    @property
    def active(self) -> bool:
        return bool(self.endpoints())

    def add(self, caller: Caller, spec: EndpointSpec) -> Endpoint:
        if not webhook_url_ok(spec.url):
            raise errors.invalid(
                f"Invalid 'url': {errors.excerpt(spec.url)} is not an http:// or https:// URL.",
                "url",
                "invalid_url",
            )
        secret = spec.secret or self.secret
        if not webhook_signing.secret_ok(secret):
            raise errors.invalid(
                "Invalid 'secret': expected whsec_ followed by base64 bytes.", "secret"
            )
        with self._lock:
            if len(self.endpoints()) >= MAX_ENDPOINTS:
                raise errors.invalid(
                    f"A server holds at most {MAX_ENDPOINTS} webhook endpoints.", "url"
                )
            types = tuple(dict.fromkeys(spec.event_types or EVENT_TYPES.values()))
            endpoint = Endpoint(
                self.new_id(ENDPOINT_PREFIX),
                spec.url,
                secret,
                types,
                self.now(),
                caller.scope,
                False,
            )
            owner = caller.scope if caller.scope is not None else ALL_ORGS
            self.store.insert(ENDPOINT, endpoint.id, owner, endpoint.to_doc())
            self._changed()
        return endpoint

    def remove(self, caller: Caller, endpoint_id: str) -> bool:
        """Remove an endpoint the caller sees; its pending deliveries are given up."""
        with self._lock:
            found = next((e for e in self.endpoints(caller.scope) if e.id == endpoint_id), None)
            if found is None:
                return False
            self.store.delete(ENDPOINT, endpoint_id)
            self.receivers.pop(found.url, None)
            self._changed()
        return True

    def clear(self, caller: Caller) -> int:
        ids = [e.id for e in self.endpoints(caller.scope)]
        return sum(self.remove(caller, endpoint_id) for endpoint_id in ids)

    def _changed(self) -> None:
        """The endpoints changed: forget the cached list, and the ends of jobs no endpoint
        can hear (they ended before the oldest endpoint existed)."""
        self._endpoints = None
        endpoints = self.endpoints()
        if endpoints:
            self.store.drop_timers(END_TIMER, min(e.created_at for e in endpoints))

    # -- events -------------------------------------------------------------------------------

    def next_due(self) -> int | None:
        """The earliest instant at which something is to be done: a job to look at, an
        attempt to make."""
        return self.store.next_timer((CHECK_TIMER, END_TIMER, DELIVERY_TIMER))

    def collect(self, now: int) -> int:
        """Make the events of the jobs that ended by `now`, and their deliveries; returns
        how many jobs were looked at. Jobs are observed as the API would (`Jobs.get`), which
        may record a validation's outcome or a success's results; on the event loop, with
        `deferring()`, that can raise `Pending`: await it and call again (what was done is
        kept, and nothing is done twice)."""
        endpoints = self.endpoints()
        if not endpoints:
            return 0
        looked = 0
        for name in (CHECK_TIMER, END_TIMER):
            while True:
                due = self.store.due_timers(name, now, BATCH)
                for job_id, org_id, _ in due:
                    self._look_at(org_id, job_id, now, endpoints)
                looked += len(due)
                if len(due) < BATCH:
                    break
        return looked

    def _look_at(self, org_id: str, job_id: str, now: int, endpoints: list[Endpoint]) -> None:
        org = self.ctx.keys.organization(org_id)
        try:
            view = self.jobs.get(org, job_id)
        except errors.APIError:  # gone (its organization was reset)
            for name in (CHECK_TIMER, END_TIMER):
                self.store.clear_timer(name, job_id)
            return
        status = view.snapshot.status
        end = self.jobs.expected(org, view.record)  # its wait for a slot included
        if not lifecycle.is_terminal(status):
            # Not ended yet: look again when its timeline says (never before the next second),
            # or, waiting for a slot with no end in sight, when the queue changes (the jobs
            # pull their organization's timers forward then).
            if end is not None:
                end = lifecycle.Ending(end.status, max(end.at, now + 1))
            elif self.jobs.ending(view.record) is not None:
                end = lifecycle.Ending(None, lifecycle.FOREVER)
            with self.store.transaction():
                self.jobs.schedule(view.record, end)
            return
        at = end.at if end is not None and end.status == status else now
        event_type = EVENT_TYPES[status]
        event_id = synth.hex_id(EVENT_PREFIX, self.settings.seed, job_id, event_type)
        with self._lock, self.store.transaction():
            if self.store.get(EVENT, event_id, None, now) is None:
                self._make_event(org_id, job_id, event_id, event_type, at, endpoints)
            for name in (CHECK_TIMER, END_TIMER):
                self.store.clear_timer(name, job_id)

    def _make_event(
        self,
        org_id: str,
        job_id: str,
        event_id: str,
        event_type: str,
        at: int,
        endpoints: list[Endpoint],
    ) -> None:
        webhook_id = synth.hex_id(WEBHOOK_ID_PREFIX, self.settings.seed, event_id)
        event = {
            "id": event_id,
            "object": EVENT_OBJECT,
            "created_at": at,
            "type": event_type,
            "data": {"id": job_id},
        }
        self.store.insert(EVENT, event_id, org_id, {**event, "webhook_id": webhook_id}, tag=job_id)
        for endpoint in endpoints:
            if not endpoint.hears(org_id, event_type, at):
                continue
            delivery_id = synth.make_id(
                DELIVERY_PREFIX, self.settings.seed, webhook_id, endpoint.id
            )
            doc = {
                "object": DELIVERY_OBJECT,
                "id": delivery_id,
                "webhook_id": webhook_id,
                "event": event,
                "job_id": job_id,
                "organization_id": org_id,
                "endpoint_id": endpoint.id,
                "url": endpoint.url,
                "status": PENDING,
                "attempts": [],
                "next_attempt_at": at,
                "created_at": at,
            }
            self.store.insert(DELIVERY, delivery_id, org_id, doc, tag=job_id)
            self.store.set_timer(DELIVERY_TIMER, delivery_id, org_id, at)

    # -- deliveries ---------------------------------------------------------------------------

    def due(self, now: int) -> list[Outgoing]:
        """The attempts due by `now`, each claimed until its result is recorded (a round
        running beside this one does not make it too)."""
        endpoints = {e.id: e for e in self.endpoints()}
        outgoing: list[Outgoing] = []
        with self._lock:
            for delivery_id, _, _ in self.store.due_timers(DELIVERY_TIMER, now, BATCH):
                if delivery_id in self._in_flight:
                    continue
                doc = self.store.get(DELIVERY, delivery_id, None, now)
                endpoint = endpoints.get(doc["endpoint_id"]) if doc is not None else None
                if doc is None or endpoint is None:  # gone, or its endpoint was removed
                    with self.store.transaction():
                        if doc is not None:
                            self.store.update(
                                DELIVERY,
                                delivery_id,
                                {**doc, "status": FAILED, "next_attempt_at": None},
                            )
                        self.store.clear_timer(DELIVERY_TIMER, delivery_id)
                    continue
                self._in_flight.add(delivery_id)
                outgoing.append(
                    Outgoing(
                        delivery_id=delivery_id,
                        url=endpoint.url,
                        secret=endpoint.secret,
                        webhook_id=doc["webhook_id"],
                        body=orjson.dumps(doc["event"]),
                        attempt=len(doc["attempts"]) + 1,
                    )
                )
        return outgoing

    def record(self, outgoing: Outgoing, result: Result, now: int) -> None:
        """Write how the attempt went: delivered, or the next attempt's instant, or (the
        schedule spent) failed."""
        with self._lock:
            try:
                doc = self.store.get(DELIVERY, outgoing.delivery_id, None, now)
                if doc is None:  # its organization was reset meanwhile
                    return
                attempts = [
                    *doc["attempts"],
                    {
                        "attempt": outgoing.attempt,
                        "at": now,
                        "timestamp": result.timestamp,
                        "status": DELIVERED if result.succeeded else FAILED,
                        "response_code": result.response_code,
                        "error": result.error,
                    },
                ]
                next_at: int | None = None
                if result.succeeded:
                    status = DELIVERED
                elif outgoing.attempt < MAX_ATTEMPTS:
                    status, next_at = PENDING, now + RETRY_DELAYS[outgoing.attempt - 1]
                else:
                    status = FAILED
                updated = {
                    **doc,
                    "attempts": attempts,
                    "status": status,
                    "next_attempt_at": next_at,
                }
                with self.store.transaction():
                    self.store.update(DELIVERY, outgoing.delivery_id, updated)
                    if next_at is None:
                        self.store.clear_timer(DELIVERY_TIMER, outgoing.delivery_id)
                    else:
                        owner = str(doc["organization_id"])
                        self.store.set_timer(DELIVERY_TIMER, outgoing.delivery_id, owner, next_at)
            finally:
                self._in_flight.discard(outgoing.delivery_id)

    def receiver(self, url: str) -> Receiver | None:
        return self.receivers.get(url)

    def deliveries(
        self, scope: str | None, page: PageRequest, job_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Up to `limit + 1` deliveries in the page's order of their making (of one job,
        with `job_id`)."""
        return self.store.page(DELIVERY, scope, page, self.now(), tag=job_id)


def _configured_id(url: str) -> str:
    """The id of the endpoint `--webhook URL` configures: the same on every start."""
    return synth.make_id(ENDPOINT_PREFIX, "configured", url)
