"""The limits the real service puts on fine-tuning, off unless configured.

- Jobs created per organization and model in a rolling day (`--max-jobs-per-day`): one more
  is refused with the real 429 `daily_rate_limit_exceeded` (johny-b/llmcomp#58).
- Jobs of an organization and model running at once (`--max-running-jobs`; the real
  dashboard lists "active / queued jobs" per model): a job that would start while every
  slot is taken stays `queued` until one frees (`mockft.queueing`).

Both can be changed at run time (`POST /mockft/limits`). A change takes effect at the instant
it is made: the history of changes is kept (in the store's metadata, so a restart resumes
it), because when a job starts depends on the limit in force at each instant, and an
instant that has been observed never changes. A server started with other limits than the
last ones in force records the change at its start.

A group's queue (its jobs' waits) is computed once per change of the group (a job created,
intervened in or validated, a limit changed) and kept: reading a job looks its wait up.
Computing it folds each job of the organization's group once, O(n log n).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

import orjson

from mockft import errors, lifecycle, queueing
from mockft.auth import Organization
from mockft.job_record import JobRecord
from mockft.paging import PageRequest
from mockft.service.context import Context, Part

log = logging.getLogger(__name__)
LIMITS_META: Final = "limits"
DAY_SECONDS: Final = 86_400
SCAN_PAGE: Final = 100  # jobs read per page while counting the day's jobs
LIMIT_NAMES: Final = ("max_jobs_per_day", "max_running_jobs")


@dataclass(frozen=True)
class LimitSettings:
    """The limits in force from `at` on (None: no limit)."""

    at: int
    max_jobs_per_day: int | None = None
    max_running_jobs: int | None = None

    def values(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in LIMIT_NAMES}


def _stored_history(text: str) -> list[LimitSettings]:
    """The stored history of the limits; none (logged) where the record cannot be read (a
    row damaged or edited by hand): the limits configured now apply, as on a new data dir,
    rather than the server failing to start."""
    try:
        history = [LimitSettings(**entry) for entry in orjson.loads(text)]
    except (ValueError, TypeError):
        history = []
    readable = bool(history) and all(
        type(h.at) is int and all(v is None or type(v) is int for v in h.values().values())
        for h in history
    )
    if not readable:
        log.warning("ignoring unreadable stored limits: %.200s", text)
        return []
    return history


@dataclass(frozen=True)
class _Queue:
    version: int
    valid_until: int  # a job whose validation has not been recorded may join from here
    waits: dict[str, queueing.Wait]


class Limits(Part):
    def __init__(self, ctx: Context, job_kind: str) -> None:
        super().__init__(ctx)
        self._job_kind = job_kind
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}
        self._queues: dict[tuple[str, str], _Queue] = {}
        self._history = self._restore()

    # -- configuration

    def _configured(self, at: int) -> LimitSettings:
        s = self.settings
        return LimitSettings(at, s.max_jobs_per_day, s.max_running_jobs)

    def _restore(self) -> list[LimitSettings]:
        text = self.store.get_meta(LIMITS_META)
        history = _stored_history(text) if text else []
        configured = self._configured(self.now())
        if not history:
            return [replace(configured, at=0)]
        if history[-1].values() != configured.values():
            history.append(configured)
            self._save(history)
        return history

    def _save(self, history: Sequence[LimitSettings]) -> None:
        # A job's queue, and so its answers, follow the limits.
        self.store.set_meta(
            LIMITS_META, orjson.dumps([asdict(h) for h in history]).decode(), answers=True
        )

    def state(self) -> dict[str, Any]:
        return {"object": "mockft.limits", **self._history[-1].values()}

    def set(self, **changes: int | None) -> dict[str, Any]:
        """Change limits from now on (`None`: no limit); names not given keep their value."""
        current = self._history[-1]
        changed = replace(current, at=self.now(), **changes)
        if changed.values() != current.values():
            history = [*self._history, changed]
            self._save(history)
            with self._lock:
                self._history = history
                self._queues.clear()
        return self.state()

    def reset(self, org_id: str | None = None) -> None:
        """Forget what was computed for an organization (its jobs are gone), or for every
        one: then the limits are the configured ones again."""
        with self._lock:
            if org_id is not None:
                self._versions[org_id] = self._versions.get(org_id, 0) + 1
                return
            self._versions.clear()
            self._queues.clear()
            self._history = [replace(self._configured(0), at=0)]
        self.store.delete_meta(LIMITS_META, answers=True)

    # -- jobs per day

    def check_daily(self, org: Organization, model: str) -> None:
        """Refuse one job more than the limit on `model` (a base snapshot) allows in the
        last 24 hours (every job created counts, whatever became of it)."""
        limit = self._history[-1].max_jobs_per_day
        if limit is None:
            return
        now = self.now()
        since, count, after = now - DAY_SECONDS, 0, None
        while True:
            page = PageRequest(limit=SCAN_PAGE, after=after, order="desc")
            docs = self.store.page(self._job_kind, org.id, page, now)
            for doc in docs[:SCAN_PAGE]:
                if doc["created_at"] <= since:
                    break
                count += doc["base_snapshot"] == model
            else:
                if len(docs) > SCAN_PAGE:
                    after = str(docs[SCAN_PAGE - 1]["id"])
                    continue
            break
        if count >= limit:
            raise errors.daily_rate_limit_exceeded(limit, model)

    # -- jobs running at once

    @property
    def limited(self) -> bool:
        """Whether a concurrency limit is, or ever was, in force."""
        return any(h.max_running_jobs is not None for h in self._history)

    def changed(self, org_id: str) -> None:
        """A job of the organization was created or changed: its queues are recomputed."""
        with self._lock:
            self._versions[org_id] = self._versions.get(org_id, 0) + 1

    def wait(
        self,
        org: Organization,
        record: JobRecord,
        group: Callable[[], Sequence[JobRecord]],
        settle: Callable[[JobRecord], JobRecord],
        plan_of: Callable[[JobRecord], lifecycle.JobPlan],
    ) -> queueing.Wait | None:
        """How long `record` waits for a slot (None: it does not). `group` gives the stored
        jobs of the organization on the record's model in creation order, `settle` a job
        with its validation's outcome recorded (waited for if need be), `plan_of` a settled
        job's plan."""
        key = (org.id, record.base_snapshot)
        now = self.now()
        with self._lock:
            version = self._versions.get(org.id, 0)
            queue = self._queues.get(key)
            history = self._history
        if queue is None or queue.version != version or now >= queue.valid_until:
            queue = self._compute(version, now, history, group, settle, plan_of)
            with self._lock:
                self._queues[key] = queue
        return queue.waits.get(record.id)

    def _compute(
        self,
        version: int,
        now: int,
        history: Sequence[LimitSettings],
        group: Callable[[], Sequence[JobRecord]],
        settle: Callable[[JobRecord], JobRecord],
        plan_of: Callable[[JobRecord], lifecycle.JobPlan],
    ) -> _Queue:
        entries: list[queueing.Entry] = []
        valid_until = lifecycle.NEVER
        for record in group():
            if record.outcome is None:
                known_from = lifecycle.outcome_instant(record.created_at)
                if now < known_from:  # it cannot be ready before then: not in the queue yet
                    valid_until = min(valid_until, known_from)
                    continue
                record = settle(record)
            plan = plan_of(record)
            entries.append(queueing.Entry(record.id, plan, record.interventions, record.context))
        limits = [queueing.LimitChange(h.at, h.max_running_jobs) for h in history]
        return _Queue(version, valid_until, queueing.schedule(entries, limits))
