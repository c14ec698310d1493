"""A fine-tuning job's timeline as a pure function of time.

`plan_job` fixes, once the training data has been validated, when each phase and each
training step happens. `snapshot` answers "what is true at `now`?" from the plan plus the
interventions (pause, resume, cancel, fail, complete) the service has recorded. Nothing
here reads a clock, does I/O or keeps state; all jitter comes from `synth`, seeded by the
job's seed.

Until `outcome_instant(created_at)` nothing a job shows depends on what validating its
files found, so a snapshot before then needs no plan: the service can answer while the
files are still being validated off the event loop. A snapshot that needs the plan and has
none raises `OutcomeNeeded`.

Time rule: at an instant t, everything the plan schedules at or before t has happened
before any intervention at t takes effect (a step finishing at the second a cancel
arrives is counted; the cancel event is listed after it).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mockft import joblog, synth
from mockft.joblog import (
    EVENT_TYPE_MESSAGE,
    EVENT_TYPE_METRICS,
    LEVEL_ERROR,
    LEVEL_INFO,
    LEVEL_WARN,
    MSG_CANCELLED,
    MSG_CHECKPOINT,
    MSG_CREATED,
    MSG_MODEL_CREATED,
    MSG_PAUSED,
    MSG_RESUMED,
    MSG_STARTED,
    MSG_SUCCEEDED,
    MSG_VALIDATED,
    MSG_VALIDATING,
    MSG_VALIDATING_WITH_VALIDATION,
    Checkpoint,
    Event,
    EventLog,
    JobContext,
    metrics_for_step,
)

# The event vocabulary lives in `joblog`; a job's timeline names it too.
__all__ = [
    "EVENT_TYPE_MESSAGE",
    "EVENT_TYPE_METRICS",
    "LEVEL_ERROR",
    "LEVEL_INFO",
    "LEVEL_WARN",
    "MSG_CANCELLED",
    "MSG_CHECKPOINT",
    "MSG_CREATED",
    "MSG_MODEL_CREATED",
    "MSG_PAUSED",
    "MSG_RESUMED",
    "MSG_STARTED",
    "MSG_SUCCEEDED",
    "MSG_VALIDATED",
    "MSG_VALIDATING",
    "MSG_VALIDATING_WITH_VALIDATION",
    "Checkpoint",
    "Event",
    "EventLog",
    "JobContext",
    "metrics_for_step",
]

AUTO = "auto"

# --- statuses and interventions ------------------------------------------------------------

VALIDATING_FILES = "validating_files"
QUEUED = "queued"
RUNNING = "running"
PAUSED = "paused"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINAL_STATUSES = frozenset({SUCCEEDED, FAILED, CANCELLED})
CANCELLABLE_STATUSES = frozenset({VALIDATING_FILES, QUEUED, RUNNING, PAUSED})

PAUSE = "pause"
RESUME = "resume"
CANCEL = "cancel"
FAIL = "fail"
COMPLETE = "complete"
HOLD = "hold"  # control API: freeze the job in its current state (no event, no status change)
RELEASE = "release"
# Never stored: the service adds them where a concurrency limit keeps a job queued. QUEUE
# holds back the start from the instant the job would have started; DEQUEUE is when a slot
# frees for it (see `mockft.queueing`).
QUEUE = "queue"
DEQUEUE = "dequeue"
INTERVENTION_KINDS = frozenset(
    {PAUSE, RESUME, CANCEL, FAIL, COMPLETE, HOLD, RELEASE, QUEUE, DEQUEUE}
)
HOLDABLE_STATUSES = frozenset({VALIDATING_FILES, QUEUED, RUNNING})

# Used when a "fail" intervention carries no error of its own.
DEFAULT_FAILURE_CODE = "server_error"
DEFAULT_FAILURE_MESSAGE = "The job failed due to an internal error."

# --- hyperparameter heuristics -----------------------------------------------------------

# OpenAI's published n_epochs heuristic.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25
# Auto batch size: 0.2% of the examples (integer arithmetic), clamped to [1, 256].
AUTO_BATCH_SIZE_PER_MILLE = 2
MIN_AUTO_BATCH_SIZE = 1
MAX_AUTO_BATCH_SIZE = 256
# Auto learning-rate multiplier from the resolved batch size: the first tier whose
# upper batch-size bound is >= batch_size wins; larger batches use the fallback.
AUTO_LEARNING_RATE_TIERS: tuple[tuple[int, float], ...] = ((1, 2.0), (16, 1.8), (64, 1.0))
AUTO_LEARNING_RATE_LARGE_BATCH = 0.5
# Base models whose auto multiplier differs from the tiers above (by snapshot prefix): real
# gpt-4o-mini jobs with batch size 1 show 1.8, where gpt-3.5-turbo and gpt-4.1-mini show 2.
AUTO_LEARNING_RATE_TIERS_BY_MODEL: dict[str, tuple[tuple[int, float], ...]] = {
    "gpt-4o-mini": ((16, 1.8), (64, 1.0)),
}

# --- timing (real seconds; a SystemClock speed compresses them) --------------------------

VALIDATION_BASE_SECONDS = 15.0
VALIDATION_JITTER_SECONDS = 5.0  # seeded, added to the base
VALIDATION_TOKENS_PER_SECOND = 10_000.0
VALIDATION_MAX_SECONDS = 60.0
# "auto" hyperparameters resolve this long before validation ends (real jobs show them
# resolved late in validating_files); a file that fails validation never resolves them.
HYPERPARAMETERS_LEAD_SECONDS = 5
QUEUE_SECONDS_RANGE = (20.0, 120.0)
STEP_BASE_SECONDS = 2.0
STEP_TOKENS_PER_SECOND = 1_500.0
# With a validation file, each epoch end also evaluates the whole validation set.
FULL_VALIDATION_SECONDS_PER_EXAMPLE = 0.1
FINAL_PHASE_SECONDS_RANGE = (20.0, 40.0)
# Per-step durations are scaled by a seeded per-job factor in 1 +/- this.
STEP_TIME_JITTER = 0.1
# The first instant, after creation, at which what a job shows can depend on validation's
# outcome: validation never ends sooner than its base duration, and the hyperparameters
# resolve HYPERPARAMETERS_LEAD_SECONDS before it ends.
OUTCOME_SECONDS = int(VALIDATION_BASE_SECONDS) - HYPERPARAMETERS_LEAD_SECONDS

# --- event volume ------------------------------------------------------------------------

# Checkpoints are kept for the last this-many epochs (one per epoch end).
CHECKPOINTED_EPOCHS = 3
# Jobs with more steps than this get a metrics event every ceil(total/this) steps (plus the
# first and last step), so a job never has more than this + 2 metrics events.
MAX_METRICS_EVENTS = 1_000

NEVER = 2**63  # the instant of something that will not happen by itself (held by a pause)
FOREVER = NEVER - 1  # an instant after every recorded one: a fold "to the end"


class OutcomeNeeded(Exception):
    """A snapshot at this instant depends on validation's outcome, and there is no plan."""


# --- value types -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingStats:
    n_examples: int
    billable_tokens: int  # tokens of one pass over the training file
    n_validation_examples: int = 0  # 0 = no validation file
    # What validating the files found that does not stop the job (over-long examples,
    # duplicates, ...): warn-level events at the end of `validating_files`.
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Stored jobs keep a JSON list; a tuple keeps the stats hashable.
        object.__setattr__(self, "warnings", tuple(self.warnings))


@dataclass(frozen=True)
class RequestedHyperparameters:
    n_epochs: int | str = AUTO
    batch_size: int | str = AUTO
    learning_rate_multiplier: float | str = AUTO


@dataclass(frozen=True)
class Hyperparameters:
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float


@dataclass(frozen=True)
class Pace:
    """How fast a job moves where a scenario's rule says so; None keeps the timing model's
    own value. Ranges are drawn from uniformly, seeded by the job's seed."""

    queue_seconds: tuple[float, float] | None = None
    step_seconds: tuple[float, float] | None = None
    """Each training step's duration, drawn once per job (instead of the token model)."""
    duration_scale: float = 1.0
    """Multiplies training: the steps, the epoch ends and publishing the model."""


@dataclass(frozen=True)
class JobError:
    code: str
    message: str
    param: str | None = None


@dataclass(frozen=True)
class Intervention:
    at: int  # unix seconds
    kind: str  # one of INTERVENTION_KINDS
    error: JobError | None = None  # for "fail"
    planned: int | None = None
    """For a "fail" set up in advance: it happens when this planned instant of the plan
    (a step's end, the end of validation, ...) actually comes, pauses included."""

    def __post_init__(self) -> None:
        if self.kind not in INTERVENTION_KINDS:
            raise ValueError(f"unknown intervention kind: {self.kind!r}")

    @property
    def failure(self) -> JobError:
        return self.error or JobError(DEFAULT_FAILURE_CODE, DEFAULT_FAILURE_MESSAGE)


@dataclass(frozen=True)
class JobPlan:
    """The whole timeline, in a few numbers: a step's instant is computed, never stored,
    so a plan costs the same for ten steps or half a million."""

    created_at: int
    resolved_at: int  # "auto" hyperparameters show their values from here
    validated_at: int  # end of validating_files
    started_at: int  # leaves the queue
    finished_at: int  # success instant, after the model-creation phase
    total_steps: int
    steps_per_epoch: int
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    trained_tokens: int
    has_validation: bool
    seed: int
    step_seconds: float  # seconds per step
    epoch_end_seconds: float  # extra seconds at each epoch end (full validation)
    validation_error: JobError | None = None
    warnings: tuple[str, ...] = ()
    graded: bool = False  # a reinforcement job: metrics carry the grader's rewards
    targets: synth.MetricTargets | None = None  # where a scenario's rule ends the curve

    @property
    def hyperparameters(self) -> Hyperparameters:
        return Hyperparameters(self.n_epochs, self.batch_size, self.learning_rate_multiplier)

    def step_time(self, step: int) -> int:
        """The planned instant step `step` (1-based) completes."""
        seconds = step * self.step_seconds + (step // self.steps_per_epoch) * self.epoch_end_seconds
        return self.started_at + math.ceil(seconds)

    @property
    def checkpoint_steps(self) -> tuple[int, ...]:
        if self.total_steps == 0:
            return ()
        first_epoch = max(1, self.n_epochs - CHECKPOINTED_EPOCHS + 1)
        return tuple(
            epoch * self.steps_per_epoch for epoch in range(first_epoch, self.n_epochs + 1)
        )

    @property
    def metrics_event_stride(self) -> int:
        return max(1, math.ceil(self.total_steps / MAX_METRICS_EVENTS))


@dataclass(frozen=True)
class JobSnapshot:
    status: str
    steps_done: int
    finished_at: int | None  # success, cancel or an injected failure; None otherwise
    error: JobError | None  # only once failed
    trained_tokens: int | None  # only once succeeded
    fine_tuned_model: str | None  # only once succeeded
    hyperparameters: Hyperparameters | None  # the resolved values, once they show
    events: EventLog  # oldest first, built per index on demand
    checkpoints: tuple[Checkpoint, ...]  # oldest first; they appear with the model
    expected_end: int | None  # when the job will end by itself, if known and not held
    until: int  # nothing above changes before this instant (NEVER: nothing will)

    @property
    def checkpoints_newest_first(self) -> tuple[Checkpoint, ...]:
        return self.checkpoints[::-1]


# --- status helpers ----------------------------------------------------------------------


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


def can_cancel(status: str) -> bool:
    return status in CANCELLABLE_STATUSES


def can_pause(status: str) -> bool:
    return status == RUNNING


def can_resume(status: str) -> bool:
    return status == PAUSED


def outcome_instant(created_at: int) -> int:
    """The first instant at which a job can show anything that depends on validation."""
    return created_at + OUTCOME_SECONDS


# --- hyperparameters ---------------------------------------------------------------------


def _explicit_int(name: str, value: int | str) -> int | None:
    if value == AUTO:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be {AUTO!r} or an integer >= 1, got {value!r}")
    return value


def _auto_epochs(n_examples: int) -> int:
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


def _auto_batch_size(n_examples: int) -> int:
    per_mille = n_examples * AUTO_BATCH_SIZE_PER_MILLE // 1000
    return max(MIN_AUTO_BATCH_SIZE, min(MAX_AUTO_BATCH_SIZE, per_mille))


def _auto_learning_rate_multiplier(batch_size: int, model: str) -> float:
    tiers = AUTO_LEARNING_RATE_TIERS
    for prefix, model_tiers in AUTO_LEARNING_RATE_TIERS_BY_MODEL.items():
        if model.startswith(prefix):
            tiers = model_tiers
    for max_batch_size, multiplier in tiers:
        if batch_size <= max_batch_size:
            return multiplier
    return AUTO_LEARNING_RATE_LARGE_BATCH


def resolve_hyperparameters(
    requested: RequestedHyperparameters, n_examples: int, model: str = ""
) -> Hyperparameters:
    """Fill in every "auto" value; explicit values are kept. `model` is the base snapshot
    (the auto learning-rate multiplier differs between models).

    0 examples (a file that failed validation) resolves as if it had 1, so a failing job
    still gets a plan.
    """
    if n_examples < 0:
        raise ValueError(f"n_examples must be >= 0, got {n_examples}")
    n = max(1, n_examples)
    n_epochs = _explicit_int("n_epochs", requested.n_epochs) or _auto_epochs(n)
    batch_size = _explicit_int("batch_size", requested.batch_size) or _auto_batch_size(n)
    lr = requested.learning_rate_multiplier
    if lr == AUTO:
        multiplier = _auto_learning_rate_multiplier(batch_size, model)
    elif isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0:
        multiplier = float(lr)
    else:
        raise ValueError(f"learning_rate_multiplier must be {AUTO!r} or > 0, got {lr!r}")
    return Hyperparameters(n_epochs, batch_size, multiplier)


# --- planning ----------------------------------------------------------------------------


def _whole_seconds(duration: float) -> int:
    return max(1, math.ceil(duration))


def plan_job(
    *,
    created_at: int,
    stats: TrainingStats,
    hyperparameters: Hyperparameters,
    seed: int,
    validation_error: JobError | None = None,
    graded: bool = False,
    pace: Pace | None = None,
    targets: synth.MetricTargets | None = None,
) -> JobPlan:
    hp = hyperparameters
    pace = pace or Pace()
    if stats.n_examples < 1 and validation_error is None:
        raise ValueError("a job without examples must carry a validation_error")
    if hp.n_epochs < 1 or hp.batch_size < 1 or hp.learning_rate_multiplier <= 0:
        raise ValueError(f"hyperparameters must be resolved and positive: {hp}")
    has_validation = stats.n_validation_examples > 0

    validation_seconds = min(
        VALIDATION_MAX_SECONDS,
        VALIDATION_BASE_SECONDS
        + synth.seeded_uniform(0.0, VALIDATION_JITTER_SECONDS, seed, "validation")
        + stats.billable_tokens / VALIDATION_TOKENS_PER_SECOND,
    )
    validated_at = created_at + _whole_seconds(validation_seconds)
    started_at = validated_at + _whole_seconds(
        synth.seeded_uniform(*(pace.queue_seconds or QUEUE_SECONDS_RANGE), seed, "queue")
    )

    steps_per_epoch = math.ceil(stats.n_examples / hp.batch_size)
    total_steps = steps_per_epoch * hp.n_epochs
    step_seconds = epoch_end_seconds = 0.0
    if total_steps:
        tokens_per_step = stats.billable_tokens / steps_per_epoch
        jitter = synth.seeded_uniform(1 - STEP_TIME_JITTER, 1 + STEP_TIME_JITTER, seed, "step")
        step_seconds = (STEP_BASE_SECONDS + tokens_per_step / STEP_TOKENS_PER_SECOND) * jitter
        if pace.step_seconds is not None:
            step_seconds = synth.seeded_uniform(*pace.step_seconds, seed, "step")
        if has_validation:
            epoch_end_seconds = stats.n_validation_examples * FULL_VALIDATION_SECONDS_PER_EXAMPLE
        step_seconds *= pace.duration_scale
        epoch_end_seconds *= pace.duration_scale
    plan = JobPlan(
        created_at=created_at,
        resolved_at=max(outcome_instant(created_at), validated_at - HYPERPARAMETERS_LEAD_SECONDS),
        validated_at=validated_at,
        started_at=started_at,
        finished_at=0,
        total_steps=total_steps,
        steps_per_epoch=steps_per_epoch,
        n_epochs=hp.n_epochs,
        batch_size=hp.batch_size,
        learning_rate_multiplier=hp.learning_rate_multiplier,
        trained_tokens=stats.billable_tokens * hp.n_epochs,
        has_validation=has_validation,
        seed=seed,
        step_seconds=step_seconds,
        epoch_end_seconds=epoch_end_seconds,
        validation_error=validation_error,
        warnings=stats.warnings,
        graded=graded,
        targets=targets,
    )
    last_step_at = plan.step_time(total_steps) if total_steps else started_at
    final_seconds = _whole_seconds(
        synth.seeded_uniform(*FINAL_PHASE_SECONDS_RANGE, seed, "final") * pace.duration_scale
    )
    return replace(plan, finished_at=last_step_at + final_seconds)


# --- metrics -----------------------------------------------------------------------------


def metrics_through(plan: JobPlan, last_step: int) -> Sequence[synth.StepMetrics]:
    """Metrics of steps 1..last_step (e.g. snapshot.steps_done), for the result CSV: computed
    as they are read, so a job of many steps never holds them all."""
    return _LazyMetrics(plan, last_step)


class _LazyMetrics(Sequence[synth.StepMetrics]):
    def __init__(self, plan: JobPlan, last_step: int) -> None:
        self._plan = plan
        self._count = max(0, min(last_step, plan.total_steps))

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> synth.StepMetrics:  # type: ignore[override]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return metrics_for_step(self._plan, index % self._count + 1)


def checkpoint_metrics(m: synth.StepMetrics) -> dict[str, object]:
    """A checkpoint's `metrics`: the step's losses and accuracies, validation included when
    there is a validation file; no full-validation values (the newest captures of the real
    API have none, though the API reference's example shows them)."""
    values: dict[str, float | int | None] = {
        "step": m.step,
        "train_loss": m.train_loss,
        "train_mean_token_accuracy": m.train_mean_token_accuracy,
        "valid_loss": m.valid_loss,
        "valid_mean_token_accuracy": m.valid_mean_token_accuracy,
        "train_reward_mean": m.train_reward_mean,
        "valid_reward_mean": m.valid_reward_mean,
    }
    return {key: value for key, value in values.items() if value is not None}


# --- applying interventions --------------------------------------------------------------


@dataclass(frozen=True)
class _Pause:
    started: int  # actual instant the pause took effect
    threshold: int  # planned instants after this one are held back by the pause
    ended: int | None  # actual resume instant; None while still paused
    held: bool = False  # a control-API hold: the status stays what it was
    queued: bool = False  # a wait for a slot (concurrency limit): held, not a control hold


@dataclass(frozen=True)
class _Terminal:
    at: int
    status: str  # CANCELLED or FAILED
    error: JobError | None


@dataclass(frozen=True)
class Timeline:
    """The interventions folded in: pauses (and holds), an early end, a forced completion."""

    pauses: tuple[_Pause, ...] = ()
    terminal: _Terminal | None = None
    completed_at: int | None = None

    def delay(self) -> int:
        return sum(p.ended - p.started for p in self.pauses if p.ended is not None)

    def actual(self, planned: int) -> int:
        """When a planned instant really happens; monotone in `planned`."""
        when = planned
        for pause in self.pauses:
            if planned > pause.threshold:
                if pause.ended is None:
                    when = NEVER
                    break
                when += pause.ended - pause.started
        if self.completed_at is not None and when > self.completed_at:
            return self.completed_at
        return when


def _need(plan: JobPlan | None) -> JobPlan:
    if plan is None:
        raise OutcomeNeeded
    return plan


def _status_at(plan: JobPlan | None, ctx: JobContext, timeline: Timeline, at: int) -> str:
    terminal = timeline.terminal
    if terminal is not None and at >= terminal.at:
        return terminal.status
    if at < timeline.actual(outcome_instant(ctx.created_at)):
        return VALIDATING_FILES  # whatever validation finds, it has not shown yet
    plan = _need(plan)
    if plan.validation_error is not None and at >= timeline.actual(plan.validated_at):
        return FAILED
    if at >= timeline.actual(plan.finished_at):
        return SUCCEEDED
    for pause in timeline.pauses:
        if pause.held:
            continue
        if pause.started <= at and (pause.ended is None or at < pause.ended):
            return PAUSED
    if at >= timeline.actual(plan.started_at):
        return RUNNING
    if at >= timeline.actual(plan.validated_at):
        return QUEUED
    return VALIDATING_FILES


def _apply(
    plan: JobPlan | None, ctx: JobContext, interventions: Sequence[Intervention], now: int
) -> tuple[Timeline, tuple[tuple[int, Intervention], ...], int]:
    """Fold the interventions that have happened by `now` into a timeline.

    Interventions are taken in time order (stable, so equal instants keep stored order);
    one that is not allowed in the status at its instant is ignored. A failure set up for a
    planned instant is placed where the other interventions make that instant happen.
    Returns the timeline, the effective interventions with their index in `interventions`
    (for event ids), and the first instant after `now` at which one still to come happens."""
    fixed = [(i, item) for i, item in enumerate(interventions) if item.planned is None]
    timeline, _ = _fold(plan, ctx, fixed, now)
    placed = list(fixed)
    for index, item in enumerate(interventions):
        if item.planned is not None:
            at = timeline.actual(item.planned)
            if at != NEVER:
                placed.append((index, replace(item, at=max(at, item.at))))
    coming = min((item.at for _, item in placed if item.at > now), default=NEVER)
    return (*_fold(plan, ctx, placed, now), coming)


def _fold(
    plan: JobPlan | None,
    ctx: JobContext,
    items: Sequence[tuple[int, Intervention]],
    now: int,
) -> tuple[Timeline, tuple[tuple[int, Intervention], ...]]:
    timeline = Timeline()
    effective: list[tuple[int, Intervention]] = []
    for index, item in sorted(items, key=lambda pair: pair[1].at):
        if item.at > now:
            break
        status = _status_at(plan, ctx, timeline, item.at)
        if is_terminal(status):
            continue
        open_pause = _open_pause(timeline, held=False)
        open_hold = _open_pause(timeline, held=True)
        open_queue = _open_pause(timeline, held=True, queued=True)
        if item.kind == PAUSE and can_pause(status):
            pause = _Pause(started=item.at, threshold=_position(timeline, item.at), ended=None)
            timeline = replace(timeline, pauses=(*timeline.pauses, pause))
        elif item.kind == RESUME and can_resume(status) and open_pause is not None:
            timeline = _end_pause(timeline, open_pause, item.at)
        elif item.kind == HOLD and status in HOLDABLE_STATUSES and open_hold is None:
            hold = _Pause(item.at, _position(timeline, item.at), None, held=True)
            timeline = replace(timeline, pauses=(*timeline.pauses, hold))
        elif item.kind == RELEASE and open_hold is not None:
            timeline = _end_pause(timeline, open_hold, item.at)
        elif item.kind == QUEUE and open_queue is None:
            # the start itself waits: it is the planned instant reached at `item.at`
            wait = _Pause(item.at, _position(timeline, item.at) - 1, None, held=True, queued=True)
            timeline = replace(timeline, pauses=(*timeline.pauses, wait))
        elif item.kind == DEQUEUE and open_queue is not None:
            timeline = _end_pause(timeline, open_queue, item.at)
        elif item.kind == CANCEL and can_cancel(status):
            timeline = replace(timeline, terminal=_Terminal(item.at, CANCELLED, None))
        elif item.kind == FAIL:
            terminal = _Terminal(item.at, FAILED, item.failure)
            timeline = replace(timeline, terminal=terminal)
        elif item.kind == COMPLETE:
            timeline = replace(timeline, completed_at=item.at)
        else:
            continue
        effective.append((index, item))
    return timeline, tuple(effective)


def _open_pause(timeline: Timeline, *, held: bool, queued: bool = False) -> int | None:
    for position, pause in enumerate(timeline.pauses):
        if pause.held == held and pause.queued == queued and pause.ended is None:
            return position
    return None


def _position(timeline: Timeline, at: int) -> int:
    """The last planned instant that has happened by `at`: time passed less the pauses that
    have ended, and no further than where a pause still open froze the plan."""
    position = at - timeline.delay()
    for pause in timeline.pauses:
        if pause.ended is None:
            position = min(position, pause.threshold)
    return position


def _end_pause(timeline: Timeline, position: int, at: int) -> Timeline:
    pauses = list(timeline.pauses)
    pauses[position] = replace(pauses[position], ended=at)
    return replace(timeline, pauses=tuple(pauses))


# --- snapshot ----------------------------------------------------------------------------


def steps_done_by(plan: JobPlan, timeline: Timeline, horizon: int) -> int:
    """How many steps have completed by `horizon`: a binary search over computed instants."""
    steps = range(1, plan.total_steps + 1)
    return bisect_right(steps, horizon, key=lambda step: timeline.actual(plan.step_time(step)))


def snapshot(
    plan: JobPlan | None, interventions: Sequence[Intervention], now: int, ctx: JobContext
) -> JobSnapshot:
    """What the job shows at `now`. `plan` may be None (validation still running) while
    nothing shown depends on it; otherwise `OutcomeNeeded` is raised."""
    timeline, effective, coming = _apply(plan, ctx, interventions, now)
    status = _status_at(plan, ctx, timeline, now)
    terminal = timeline.terminal
    horizon = min(now, terminal.at) if terminal is not None else now
    outcome_at = timeline.actual(outcome_instant(ctx.created_at))
    if horizon < outcome_at:
        events = EventLog(ctx, None, timeline, effective, horizon, 0)
        return JobSnapshot(
            status=status,
            steps_done=0,
            finished_at=terminal.at if terminal is not None else None,
            error=terminal.error if terminal is not None else None,
            trained_tokens=None,
            fine_tuned_model=None,
            hyperparameters=None,
            events=events,
            checkpoints=(),
            expected_end=None,
            until=NEVER if is_terminal(status) else min(outcome_at, coming),
        )
    plan = _need(plan)

    def happened(planned: int) -> bool:
        return timeline.actual(planned) <= horizon

    failed_validation = plan.validation_error is not None
    steps_done = 0 if failed_validation else steps_done_by(plan, timeline, horizon)
    succeeded = status == SUCCEEDED
    error: JobError | None = None
    finished_at: int | None = None
    if terminal is not None:
        error, finished_at = terminal.error, terminal.at
    elif succeeded:
        finished_at = timeline.actual(plan.finished_at)
    elif status == FAILED:
        error = plan.validation_error  # failed in validating_files: no finished_at
    checkpoints = _checkpoints(plan, ctx, timeline) if succeeded else ()
    resolved = not failed_validation and happened(plan.resolved_at)
    end = plan.validated_at if failed_validation else plan.finished_at
    expected_end = _expected(plan, ctx, interventions, now, timeline).actual(end)
    return JobSnapshot(
        status=status,
        steps_done=steps_done,
        finished_at=finished_at,
        error=error if status == FAILED else None,
        trained_tokens=plan.trained_tokens if succeeded else None,
        fine_tuned_model=ctx.fine_tuned_model if succeeded else None,
        hyperparameters=plan.hyperparameters if resolved else None,
        events=EventLog(ctx, plan, timeline, effective, horizon, steps_done),
        checkpoints=checkpoints,
        expected_end=(
            expected_end
            if status in (VALIDATING_FILES, QUEUED, RUNNING) and expected_end != NEVER
            else None
        ),
        until=(
            NEVER
            if is_terminal(status)
            else min(coming, _next_planned(plan, timeline, now, steps_done))
        ),
    )


def _expected(
    plan: JobPlan,
    ctx: JobContext,
    interventions: Sequence[Intervention],
    now: int,
    timeline: Timeline,
) -> Timeline:
    """The timeline the job's end is expected by: as it stands, or, while it waits for a
    slot that frees later, with that wait ended when it will."""
    if not any(item.kind == DEQUEUE and item.at > now for item in interventions):
        return timeline
    return _apply(plan, ctx, interventions, FOREVER)[0]


# --- slots (concurrency limits: see `mockft.queueing`) -----------------------------------


def slot_start(plan: JobPlan, interventions: Sequence[Intervention], ctx: JobContext) -> int | None:
    """When the job starts running if a slot is free for it (NEVER: held back with no end
    in sight), as its own interventions have it; None if it never needs a slot (its files
    failed validation, or it ended, or was completed, before it would start)."""
    if plan.validation_error is not None:
        return None
    timeline = _apply(plan, ctx, interventions, FOREVER)[0]
    start = timeline.actual(plan.started_at)
    terminal = timeline.terminal
    if terminal is not None and terminal.at <= start:
        return None
    if timeline.completed_at is not None and timeline.completed_at <= start:
        return None
    return start


def slot_end(plan: JobPlan, interventions: Sequence[Intervention], ctx: JobContext) -> int:
    """When the job stops holding a slot: its end as its interventions (waits for a slot
    included) have it, NEVER while a pause or hold has no end in sight."""
    timeline = _apply(plan, ctx, interventions, FOREVER)[0]
    end = timeline.actual(plan.finished_at)
    if timeline.terminal is not None:
        end = min(end, timeline.terminal.at)
    return end


@dataclass(frozen=True)
class Ending:
    """How a job's timeline, as recorded, ends: in `status` at instant `at`; or (status
    None) it cannot be told before `at`, when what validating its files found shows."""

    status: str | None
    at: int


def ending(
    plan: JobPlan | None, interventions: Sequence[Intervention], ctx: JobContext
) -> Ending | None:
    """When and how the job ends by itself, as its plan and interventions stand (None: it
    does not, paused or held until someone acts). What finds the jobs that end by an
    instant (webhooks) reads this instead of every job's timeline."""
    horizon = FOREVER
    try:
        timeline, _, _ = _apply(plan, ctx, interventions, horizon)
    except OutcomeNeeded:
        return Ending(None, outcome_instant(ctx.created_at))
    try:
        status = _status_at(plan, ctx, timeline, horizon)
    except OutcomeNeeded:
        return Ending(None, timeline.actual(outcome_instant(ctx.created_at)))
    if not is_terminal(status):
        return None
    terminal = timeline.terminal
    if terminal is not None:
        return Ending(status, terminal.at)
    plan = _need(plan)
    end = plan.validated_at if plan.validation_error is not None else plan.finished_at
    return Ending(status, timeline.actual(end))


def _next_planned(plan: JobPlan, timeline: Timeline, now: int, steps_done: int) -> int:
    """The first instant after `now` at which something of the plan happens."""
    instants = [plan.resolved_at, plan.validated_at, plan.started_at, plan.finished_at]
    if steps_done < plan.total_steps:
        instants.append(plan.step_time(steps_done + 1))
    actual = (timeline.actual(planned) for planned in instants)
    return min((at for at in actual if at > now), default=NEVER)


def _checkpoints(plan: JobPlan, ctx: JobContext, timeline: Timeline) -> tuple[Checkpoint, ...]:
    """The checkpoints of a succeeded job, created at their steps' ends; the last one's
    model is the fine-tuned model itself."""
    steps = plan.checkpoint_steps
    return tuple(
        Checkpoint(
            object=joblog.CHECKPOINT_OBJECT,
            id=synth.make_id(joblog.CHECKPOINT_ID_PREFIX, ctx.job_id, step),
            created_at=timeline.actual(plan.step_time(step)),
            fine_tuned_model_checkpoint=ctx.checkpoint_model(step, final=step == steps[-1]),
            fine_tuning_job_id=ctx.job_id,
            metrics=checkpoint_metrics(metrics_for_step(plan, step, evaluate=True)),
            step_number=step,
        )
        for step in steps
    )
