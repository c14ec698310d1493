"""A job's events and checkpoints at an instant, computed per index (pure).

The events of a job are a sequence in time order: the planned ones (created, validating,
warnings, validated, started, one metrics event per reported step, then at the model's
creation the checkpoint events, the model and success), with the events of interventions
(pause, resume, cancel, a failure) merged in by time. `EventLog` knows how many there are
and builds the one at an index (or finds the index of an id) by arithmetic on the plan:
a page of 20 events costs the same at step 10 or at step 500,000, and nothing holds a
job's whole event list.

Event ids encode their event (`synth.indexed_id`), so a cursor is resolved without a table.
Built events are memoised in a bounded cache: an event that has happened never changes.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from mockft import synth

if TYPE_CHECKING:
    from mockft.lifecycle import Intervention, JobPlan, Timeline

LEVEL_INFO = "info"
LEVEL_WARN = "warn"
LEVEL_ERROR = "error"
EVENT_TYPE_MESSAGE = "message"
EVENT_TYPE_METRICS = "metrics"
EVENT_ID_PREFIX = "ftevent-"
EVENT_OBJECT = "fine_tuning.job.event"
CHECKPOINT_ID_PREFIX = "ftckpt_"
CHECKPOINT_OBJECT = "fine_tuning.job.checkpoint"

MSG_CREATED = "Created fine-tuning job: {job_id}"
MSG_VALIDATING = "Validating training file: {training_file}"
MSG_VALIDATING_WITH_VALIDATION = (
    "Validating training file: {training_file} and validation file: {validation_file}"
)
MSG_VALIDATED = "Files validated, moving job to queued state"
MSG_STARTED = "Fine-tuning job started"
MSG_CHECKPOINT = "Checkpoint created at step {step} with Snapshot ID: {model}"
MSG_MODEL_CREATED = "New fine-tuned model created: {model}"
MSG_SUCCEEDED = "The job has successfully completed"
MSG_PAUSED = "Fine-tuning job paused"
MSG_RESUMED = "Fine-tuning job resumed"
MSG_CANCELLED = "Fine-tuning job cancelled"
# The events of interventions, by kind ("fail" events carry the failure's message).
INTERVENTION_MESSAGES = {"pause": MSG_PAUSED, "resume": MSG_RESUMED, "cancel": MSG_CANCELLED}
FAILURE_KIND = "fail"

# What a message event's `data` is: {} for most, null for "Fine-tuning job started" (every
# real capture agrees on both).
EMPTY_DATA: dict[str, object] = {}

# Event kinds, for ids: an event's id encodes (kind, n) as kind * _KIND_STRIDE + n.
CREATED, VALIDATING, WARNING, VALIDATED, VALIDATION_FAILED, STARTED = 1, 2, 3, 4, 5, 6
STEP, CHECKPOINT, MODEL_CREATED, SUCCEEDED, INTERVENTION = 7, 8, 9, 10, 11
_KIND_STRIDE = 2**40
# Built events kept for the next page (an entry is a few hundred bytes), and pages kept by
# each log (a log lasts until the job's next planned instant).
EVENT_CACHE_SIZE = 4_096
PAGES_KEPT = 8


@dataclass(frozen=True)
class JobContext:
    """What the service knows of a job before its files are validated."""

    job_id: str
    training_file: str
    validation_file: str | None
    fine_tuned_model: str  # the final model name, precomputed by the service
    created_at: int

    def checkpoint_model(self, step: int, *, final: bool) -> str:
        """The model a checkpoint made: the last one's is the fine-tuned model; each other
        has its own tag, `ft:...:{tag}:ckpt-step-{step}` (as the real API names them)."""
        if final:
            return self.fine_tuned_model
        base = self.fine_tuned_model.rsplit(":", 1)[0]
        tag = synth.model_tag(self.fine_tuned_model, "checkpoint", step)
        return synth.checkpoint_model_name(f"{base}:{tag}", step)


@dataclass(frozen=True)
class Event:
    """A `fine_tuning.job.event`: its fields, in the order the API writes them (`wire.jobs`
    serialises it as it is)."""

    object: str
    id: str
    created_at: int
    level: str
    message: str
    data: dict[str, Any] | None  # {} or null for message events
    type: str


@dataclass(frozen=True)
class Checkpoint:
    """A `fine_tuning.job.checkpoint`: its fields, in the order the API writes them."""

    object: str
    id: str
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str
    metrics: dict[str, Any]
    step_number: int


# --- metrics -----------------------------------------------------------------------------


def metrics_for_step(
    plan: JobPlan, step: int, *, evaluate: bool | None = None
) -> synth.StepMetrics:
    metrics = synth.step_metrics(
        plan.seed,
        step,
        plan.total_steps,
        plan.steps_per_epoch,
        plan.n_epochs,
        plan.learning_rate_multiplier,
        plan.has_validation,
        evaluate=evaluate,
        targets=plan.targets,
    )
    return synth.with_rewards(metrics) if plan.graded else metrics


@dataclass(frozen=True)
class EventSteps:
    """The steps that get a metrics event: every step, or for a job of more steps than
    `MAX_METRICS_EVENTS` (lifecycle) every `stride`-th plus the first and the last."""

    total: int
    stride: int

    @property
    def _first(self) -> int:
        return 1 if self.stride > 1 and self.total >= 1 else 0  # step 1, when not a multiple

    @property
    def _multiples(self) -> int:
        return self.total // self.stride

    @property
    def _last(self) -> int:
        return 1 if self.total % self.stride else 0  # the last step, when not a multiple

    def count(self, upto: int) -> int:
        """How many reported steps are <= `upto`."""
        upto = min(upto, self.total)
        if upto < 1:
            return 0
        last = self._last if upto >= self.total else 0
        return self._first + min(self._multiples, upto // self.stride) + last

    def step(self, index: int) -> int:
        if index < self._first:
            return 1
        index -= self._first
        return (index + 1) * self.stride if index < self._multiples else self.total

    def index(self, step: int) -> int | None:
        if self._first and step == 1:
            return 0
        if step % self.stride == 0 and 1 <= step // self.stride <= self._multiples:
            return self._first + step // self.stride - 1
        if self._last and step == self.total:
            return self._first + self._multiples
        return None


# --- the log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    """A run of planned events of one kind: `count` of them, the i-th is (kind, n_of(i))."""

    kind: int
    count: int
    at: Callable[[int], int]
    n_of: Callable[[int], int] = int
    offset_of: Callable[[int], int | None] | None = None

    def offset(self, n: int) -> int | None:
        if self.offset_of is not None:
            return self.offset_of(n)
        return n if 0 <= n < self.count else None


class EventLog(Sequence[Event]):
    """The events of a job at one instant, oldest first, built on demand."""

    def __init__(
        self,
        ctx: JobContext,
        plan: JobPlan | None,
        timeline: Timeline,
        effective: Sequence[tuple[int, Intervention]],
        horizon: int,
        steps_done: int,
    ) -> None:
        self._ctx = ctx
        self._plan = plan
        self._timeline = timeline
        self._horizon = horizon
        self._steps_done = steps_done
        self._interventions = tuple(
            (index, item)
            for index, item in effective
            if item.kind in INTERVENTION_MESSAGES or item.kind == FAILURE_KIND
        )
        self._segments = self._planned_segments()
        self._starts: list[int] = []
        planned = 0
        for segment in self._segments:
            self._starts.append(planned)
            planned += segment.count
        self._planned = planned
        # Where each intervention event sits: after the planned events up to its instant
        # (planned events of the same second come first).
        positions = [
            bisect_right(range(planned), item.at, key=self._planned_at)
            for _, item in self._interventions
        ]
        self._positions = positions
        self._merged = [position + j for j, position in enumerate(positions)]
        self._key = _Key((plan, ctx, tuple(item for _, item in effective)))
        self._pages: dict[tuple[str | None, int], list[Event]] = {}

    # -- the planned events

    def _happened(self, planned: int) -> bool:
        return self._timeline.actual(planned) <= self._horizon

    def _planned_segments(self) -> list[_Segment]:
        ctx, plan, actual = self._ctx, self._plan, self._timeline.actual
        if self._horizon < ctx.created_at:
            return []
        created = [
            _Segment(CREATED, 1, lambda _: ctx.created_at),
            _Segment(VALIDATING, 1, lambda _: ctx.created_at),
        ]
        if plan is None or not self._happened(plan.validated_at):
            return created
        validated_at = actual(plan.validated_at)
        segments = [*created, _Segment(WARNING, len(plan.warnings), lambda _: validated_at)]
        if plan.validation_error is not None:
            return [*segments, _Segment(VALIDATION_FAILED, 1, lambda _: validated_at)]
        segments.append(_Segment(VALIDATED, 1, lambda _: validated_at))
        if not self._happened(plan.started_at):
            return segments
        started_at = actual(plan.started_at)
        steps = EventSteps(plan.total_steps, plan.metrics_event_stride)
        segments += [
            _Segment(STARTED, 1, lambda _: started_at),
            _Segment(
                STEP,
                steps.count(self._steps_done),
                lambda i: actual(plan.step_time(steps.step(i))),
                steps.step,
                steps.index,
            ),
        ]
        if not self._happened(plan.finished_at):
            return segments
        finished_at = actual(plan.finished_at)
        earlier = plan.checkpoint_steps[:-1]  # the last checkpoint is the model itself
        return [
            *segments,
            _Segment(
                CHECKPOINT,
                len(earlier),
                lambda _: finished_at,
                earlier.__getitem__,
                lambda step: earlier.index(step) if step in earlier else None,
            ),
            _Segment(MODEL_CREATED, 1, lambda _: finished_at),
            _Segment(SUCCEEDED, 1, lambda _: finished_at),
        ]

    def _locate(self, planned: int) -> tuple[_Segment, int]:
        position = bisect_right(self._starts, planned) - 1
        return self._segments[position], planned - self._starts[position]

    def _planned_at(self, planned: int) -> int:
        segment, offset = self._locate(planned)
        return segment.at(offset)

    # -- the sequence

    def __len__(self) -> int:
        return self._planned + len(self._interventions)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | Sequence[Event]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self._event(index % len(self))

    def __iter__(self) -> Iterator[Event]:
        return (self._event(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        """Equal logs list the same events (a comparison builds both: for tests)."""
        if not isinstance(other, (EventLog, list, tuple)):
            return NotImplemented
        return len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<EventLog of {self._ctx.job_id}: {len(self)} events>"

    def newest_first(self, after: str | None, limit: int) -> list[Event]:
        """Up to `limit` events newest first, after the event `after` (a cursor that is not
        an event of this job as it stands gives an empty page). A log stands for one
        stretch of time, so its pages are kept (a few) for the next poll."""
        key = (after, limit)
        page = self._pages.get(key)
        if page is None:
            page = self._page(after, limit)
            if len(self._pages) >= PAGES_KEPT:
                self._pages.clear()
            self._pages[key] = page
        return page

    def _page(self, after: str | None, limit: int) -> list[Event]:
        start = 0
        if after is not None:
            position = self.position(after)
            if position is None:
                return []
            start = len(self) - position
        stop = min(len(self), start + limit)
        return [self._event(len(self) - 1 - r) for r in range(start, stop)]

    def position(self, event_id: str) -> int | None:
        """The index (oldest first) of the event with this id, if it is in the log."""
        code = synth.id_index(EVENT_ID_PREFIX, event_id, self._ctx.job_id)
        if code is None:
            return None
        kind, n = divmod(code, _KIND_STRIDE)
        if kind == INTERVENTION:
            for j, (index, _) in enumerate(self._interventions):
                if index == n:
                    return self._merged[j]
            return None
        for start, segment in zip(self._starts, self._segments, strict=True):
            if segment.kind == kind:
                offset = segment.offset(n)
                if offset is None or offset >= segment.count:
                    return None
                planned = start + offset
                return planned + bisect_right(self._positions, planned)
        return None

    def _event(self, merged: int) -> Event:
        j = bisect_left(self._merged, merged)
        if j < len(self._merged) and self._merged[j] == merged:
            index, item = self._interventions[j]
            return _cached(self._key, INTERVENTION, index, lambda: self._intervention(index, item))
        segment, offset = self._locate(merged - j)
        n = segment.n_of(offset)
        return _cached(self._key, segment.kind, n, lambda: self._planned_event(segment, offset, n))

    # -- building an event

    def _message(
        self,
        kind: int,
        n: int,
        at: int,
        message: str,
        level: str = LEVEL_INFO,
        data: dict[str, object] | None = EMPTY_DATA,
    ) -> Event:
        event_id = synth.indexed_id(EVENT_ID_PREFIX, kind * _KIND_STRIDE + n, self._ctx.job_id)
        return Event(EVENT_OBJECT, event_id, at, level, message, data, EVENT_TYPE_MESSAGE)

    def _intervention(self, index: int, item: Intervention) -> Event:
        if item.kind == FAILURE_KIND:
            return self._message(INTERVENTION, index, item.at, item.failure.message, LEVEL_ERROR)
        return self._message(INTERVENTION, index, item.at, INTERVENTION_MESSAGES[item.kind])

    def _planned_event(self, segment: _Segment, offset: int, n: int) -> Event:
        ctx, plan, kind, at = self._ctx, self._plan, segment.kind, segment.at(offset)
        if kind == CREATED:
            return self._message(kind, n, at, MSG_CREATED.format(job_id=ctx.job_id))
        if kind == VALIDATING:
            message = (
                MSG_VALIDATING_WITH_VALIDATION.format(
                    training_file=ctx.training_file, validation_file=ctx.validation_file
                )
                if ctx.validation_file
                else MSG_VALIDATING.format(training_file=ctx.training_file)
            )
            return self._message(kind, n, at, message)
        assert plan is not None  # every other kind comes after validation
        if kind == WARNING:
            return self._message(kind, n, at, plan.warnings[n], LEVEL_WARN)
        if kind == VALIDATION_FAILED:
            assert plan.validation_error is not None
            return self._message(kind, n, at, plan.validation_error.message, LEVEL_ERROR)
        if kind == VALIDATED:
            return self._message(kind, n, at, MSG_VALIDATED)
        if kind == STARTED:
            return self._message(kind, n, at, MSG_STARTED, data=None)
        if kind == STEP:
            metrics = metrics_for_step(plan, n)
            return Event(
                object=EVENT_OBJECT,
                id=synth.indexed_id(EVENT_ID_PREFIX, kind * _KIND_STRIDE + n, ctx.job_id),
                created_at=at,
                level=LEVEL_INFO,
                message=synth.metrics_event_message(metrics, plan.total_steps),
                data=synth.metrics_event_data(metrics, plan.total_steps),
                type=EVENT_TYPE_METRICS,
            )
        if kind == CHECKPOINT:
            model = ctx.checkpoint_model(n, final=False)
            return self._message(kind, n, at, MSG_CHECKPOINT.format(step=n, model=model))
        if kind == MODEL_CREATED:
            return self._message(kind, n, at, MSG_MODEL_CREATED.format(model=ctx.fine_tuned_model))
        return self._message(kind, n, at, MSG_SUCCEEDED)


class _Key:
    """What an event is a function of, hashed once."""

    __slots__ = ("_hash", "parts")

    def __init__(self, parts: tuple[object, ...]) -> None:
        self.parts = parts
        self._hash = hash(parts)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and self._hash == other._hash and self.parts == other.parts


# An event that has happened is a function of the job's plan, context and interventions
# (later interventions never change it), so built events are shared between snapshots.
_EVENTS: dict[tuple[_Key, int, int], Event] = {}
_EVENTS_LOCK = threading.Lock()


def _cached(key: _Key, kind: int, n: int, build: Callable[[], Event]) -> Event:
    full = (key, kind, n)
    event = _EVENTS.get(full)
    if event is None:
        event = build()
        with _EVENTS_LOCK:
            if len(_EVENTS) >= EVENT_CACHE_SIZE:
                del _EVENTS[next(iter(_EVENTS))]  # the oldest entry
            _EVENTS[full] = event
    return event
