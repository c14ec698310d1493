"""The deterministic queue of a concurrency limit (pure): when each job gets a slot.

An organization may run only so many jobs of a model at once. A job that would start while
every slot is taken stays `queued` until one frees; slots go to the waiting jobs in the
order the jobs were created (FIFO), and a job holds its slot from its start until it ends
(succeeds, fails or is cancelled; a paused or held job keeps it). The limit in force is the
one set at each instant: a change takes effect when it is made and never takes a slot from
a job that holds one.

`schedule` is a function of the group's jobs (their plans and interventions) and of the
limit's history, never of the clock: everything that happens at an instant follows from what
is recorded up to it, so a change (a job created, cancelled, paused, failed or completed
early, a limit changed) only moves what comes after it. A job that waits gets two
interventions that are never stored, `QUEUE` where it would have started and `DEQUEUE` where
its slot frees (`queue_interventions`): its timeline then is `lifecycle.snapshot` of its
plan and those, so its events, steps and end shift with the wait.

Cost: one fold of each job's interventions and a heap walk, O(n log n) for n jobs.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from mockft.lifecycle import (
    DEQUEUE,
    NEVER,
    QUEUE,
    Intervention,
    JobContext,
    JobPlan,
    slot_end,
    slot_start,
)


@dataclass(frozen=True)
class Entry:
    """A job of the group, in creation order."""

    job_id: str
    plan: JobPlan
    interventions: tuple[Intervention, ...]
    ctx: JobContext


@dataclass(frozen=True)
class Wait:
    """A job that waits for a slot: from `ready` (when it would have started) to `start`
    (when a slot frees for it; NEVER: none will, as things stand)."""

    ready: int
    start: int


@dataclass(frozen=True)
class LimitChange:
    """From `at` on, at most `limit` jobs of a group run at once (None: no limit)."""

    at: int
    limit: int | None


def queue_interventions(wait: Wait | None) -> tuple[Intervention, ...]:
    """What a wait adds to the job's own interventions (after them: at the same instant an
    intervention of the job's own comes first)."""
    if wait is None:
        return ()
    if wait.start == NEVER:
        return (Intervention(wait.ready, QUEUE),)
    return (Intervention(wait.ready, QUEUE), Intervention(wait.start, DEQUEUE))


def schedule(entries: Sequence[Entry], limits: Sequence[LimitChange]) -> dict[str, Wait]:
    """The jobs of `entries` (in creation order) that wait for a slot, and how long."""
    changes = sorted(limits, key=lambda change: change.at)
    change_at = [change.at for change in changes]

    def limit_at(instant: int, *, changed: bool) -> int | None:
        """The limit at `instant`: before a change made at it, or (`changed`) after."""
        index = (bisect_right if changed else bisect_left)(change_at, instant) - 1
        return changes[index].limit if index >= 0 else None

    ready: list[tuple[int, int, Entry]] = []
    for order, entry in enumerate(entries):
        start = slot_start(entry.plan, entry.interventions, entry.ctx)
        if start is not None and start != NEVER:
            ready.append((start, order, entry))
    ready.sort(key=lambda item: (item[0], item[1]))

    waits: dict[str, Wait] = {}
    waiting: list[tuple[int, int, Entry]] = []  # (order, ready, entry): FIFO by creation
    ends: list[int] = []  # when the jobs holding a slot end
    held = 0  # jobs holding a slot, those that never end included
    admitted = 0
    now = ready[0][0] if ready else NEVER
    while now != NEVER:
        while ends and ends[0] <= now:
            heapq.heappop(ends)
            held -= 1
        while admitted < len(ready) and ready[admitted][0] <= now:
            start, order, entry = ready[admitted]
            heapq.heappush(waiting, (order, start, entry))
            admitted += 1
        # What the plans have at an instant comes before a change of the limit made at it.
        for limit in (limit_at(now, changed=False), limit_at(now, changed=True)):
            while waiting and (limit is None or held < limit):
                _, start, entry = heapq.heappop(waiting)
                wait = Wait(start, now) if now > start else None
                interventions = entry.interventions + queue_interventions(wait)
                end = slot_end(entry.plan, interventions, entry.ctx)
                if wait is not None:
                    waits[entry.job_id] = wait
                    if end <= now:  # it ended (cancelled, failed) while it waited
                        continue
                held += 1
                if end != NEVER:
                    heapq.heappush(ends, end)
        upcoming = [ready[admitted][0]] if admitted < len(ready) else []
        if ends:
            upcoming.append(ends[0])
        if waiting:
            upcoming.extend(at for at in change_at if at > now)
        now = min(upcoming, default=NEVER)
    for _, start, entry in waiting:
        waits[entry.job_id] = Wait(start, NEVER)
    return waits
