"""A fine-tuning job's timeline as a pure function of time.

`plan_job` fixes, at creation, when each phase and each training step happens.
`snapshot` answers "what is true at `now`?" from the plan plus the interventions
(pause, resume, cancel, fail, complete) the service has recorded. Nothing here reads a
clock, does I/O or keeps state; all jitter comes from `synth`, seeded by the job's seed.

Time rule: at an instant t, everything the plan schedules at or before t has happened
before any intervention at t takes effect (a step finishing at the second a cancel
arrives is counted; the cancel event is listed after it).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mockft import synth

AUTO = "auto"

# --- statuses, interventions, event vocabulary -------------------------------------------

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
INTERVENTION_KINDS = frozenset({PAUSE, RESUME, CANCEL, FAIL, COMPLETE, HOLD, RELEASE})
HOLDABLE_STATUSES = frozenset({VALIDATING_FILES, QUEUED, RUNNING})
SILENT_INTERVENTIONS = frozenset({COMPLETE, HOLD, RELEASE})  # no event of their own

LEVEL_INFO = "info"
LEVEL_WARN = "warn"
LEVEL_ERROR = "error"
EVENT_TYPE_MESSAGE = "message"
EVENT_TYPE_METRICS = "metrics"
EVENT_ID_PREFIX = "ftevent-"
EVENT_OBJECT = "fine_tuning.job.event"
CHECKPOINT_ID_PREFIX = "ftckpt_"

MSG_CREATED = "Created fine-tuning job: {job_id}"
MSG_VALIDATING = "Validating training file: {training_file}"
MSG_VALIDATING_WITH_VALIDATION = (
    "Validating training file: {training_file} and validation file: {validation_file}"
)
MSG_VALIDATED = "Files validated, moving job to queued state"
MSG_STARTED = "Fine-tuning job started"
MSG_CHECKPOINT = "Checkpoint created at step {step}"
MSG_MODEL_CREATED = "New fine-tuned model created: {model}"
MSG_SUCCEEDED = "The job has successfully completed"
MSG_PAUSED = "Fine-tuning job paused"
MSG_RESUMED = "Fine-tuning job resumed"
MSG_CANCELLED = "Fine-tuning job cancelled"

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

# --- timing (real seconds; a SystemClock speed compresses them) --------------------------

VALIDATION_BASE_SECONDS = 15.0
VALIDATION_JITTER_SECONDS = 5.0  # seeded, added to the base
VALIDATION_TOKENS_PER_SECOND = 10_000.0
VALIDATION_MAX_SECONDS = 60.0
QUEUE_SECONDS_RANGE = (20.0, 120.0)
STEP_BASE_SECONDS = 2.0
STEP_TOKENS_PER_SECOND = 1_500.0
# With a validation file, each epoch end also evaluates the whole validation set.
FULL_VALIDATION_SECONDS_PER_EXAMPLE = 0.1
FINAL_PHASE_SECONDS_RANGE = (20.0, 40.0)
# Per-step durations are scaled by a seeded per-job factor in 1 +/- this.
STEP_TIME_JITTER = 0.1

# --- event volume ------------------------------------------------------------------------

# Checkpoints are kept for the last this-many epochs (one per epoch end).
CHECKPOINTED_EPOCHS = 3
# Jobs with more steps than this get a metrics event every ceil(total/this) steps (plus the
# first and last step), so a job never has more than this + 2 metrics events.
MAX_METRICS_EVENTS = 1_000

_NEVER = 2**63  # "actual time" of something held back by a pause that has not ended


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


@dataclass(frozen=True)
class JobPlan:
    created_at: int
    validated_at: int  # end of validating_files
    started_at: int  # leaves the queue
    step_times: tuple[int, ...]  # completion instant of each step; len == total_steps
    finished_at: int  # success instant, after the model-creation phase
    total_steps: int
    steps_per_epoch: int
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    trained_tokens: int
    has_validation: bool
    seed: int
    validation_error: JobError | None = None
    warnings: tuple[str, ...] = ()
    graded: bool = False  # a reinforcement job: metrics carry the grader's rewards

    def __hash__(self) -> int:
        return self._hash

    @functools.cached_property
    def _hash(self) -> int:
        # A plan keys the snapshot memo on every poll, and step_times can hold thousands of
        # instants: hash the fields once (the plan is immutable).
        return hash(tuple(getattr(self, f.name) for f in dataclasses.fields(self)))

    @property
    def hyperparameters(self) -> Hyperparameters:
        return Hyperparameters(self.n_epochs, self.batch_size, self.learning_rate_multiplier)

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
class JobContext:
    job_id: str
    training_file: str
    validation_file: str | None
    fine_tuned_model: str  # the final model name, precomputed by the service


@dataclass(frozen=True)
class EventSpec:
    """A `fine_tuning.job.event`, field for field as the API serialises it."""

    id: str
    created_at: int
    level: str
    message: str
    type: str
    data: dict[str, object]  # {} for message events
    object: str = EVENT_OBJECT


@dataclass(frozen=True)
class CheckpointSpec:
    id: str
    step_number: int
    created_at: int
    metrics: dict[str, object]
    fine_tuned_model_checkpoint: str


@dataclass(frozen=True)
class JobSnapshot:
    status: str
    steps_done: int
    finished_at: int | None
    error: JobError | None
    estimated_finish: int | None  # planned finish while queued/running, else None
    trained_tokens: int | None  # only once succeeded
    fine_tuned_model: str | None  # only once succeeded
    events: tuple[EventSpec, ...]  # oldest first; a strict total order
    checkpoints: tuple[CheckpointSpec, ...]  # oldest first

    @functools.cached_property
    def events_newest_first(self) -> tuple[EventSpec, ...]:
        return self.events[::-1]

    @functools.cached_property
    def checkpoints_newest_first(self) -> tuple[CheckpointSpec, ...]:
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


def _auto_learning_rate_multiplier(batch_size: int) -> float:
    for max_batch_size, multiplier in AUTO_LEARNING_RATE_TIERS:
        if batch_size <= max_batch_size:
            return multiplier
    return AUTO_LEARNING_RATE_LARGE_BATCH


def resolve_hyperparameters(
    requested: RequestedHyperparameters, n_examples: int
) -> Hyperparameters:
    """Fill in every "auto" value; explicit values are kept.

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
        multiplier = _auto_learning_rate_multiplier(batch_size)
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
) -> JobPlan:
    hp = hyperparameters
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
        synth.seeded_uniform(*QUEUE_SECONDS_RANGE, seed, "queue")
    )

    steps_per_epoch = math.ceil(stats.n_examples / hp.batch_size)
    total_steps = steps_per_epoch * hp.n_epochs
    step_times: tuple[int, ...] = ()
    if total_steps:
        tokens_per_step = stats.billable_tokens / steps_per_epoch
        jitter = synth.seeded_uniform(1 - STEP_TIME_JITTER, 1 + STEP_TIME_JITTER, seed, "step")
        step_seconds = (STEP_BASE_SECONDS + tokens_per_step / STEP_TOKENS_PER_SECOND) * jitter
        epoch_end_seconds = (
            stats.n_validation_examples * FULL_VALIDATION_SECONDS_PER_EXAMPLE
            if has_validation
            else 0.0
        )
        step_times = tuple(
            started_at
            + math.ceil(step * step_seconds + (step // steps_per_epoch) * epoch_end_seconds)
            for step in range(1, total_steps + 1)
        )
    last_step_at = step_times[-1] if step_times else started_at
    finished_at = last_step_at + _whole_seconds(
        synth.seeded_uniform(*FINAL_PHASE_SECONDS_RANGE, seed, "final")
    )
    return JobPlan(
        created_at=created_at,
        validated_at=validated_at,
        started_at=started_at,
        step_times=step_times,
        finished_at=finished_at,
        total_steps=total_steps,
        steps_per_epoch=steps_per_epoch,
        n_epochs=hp.n_epochs,
        batch_size=hp.batch_size,
        learning_rate_multiplier=hp.learning_rate_multiplier,
        trained_tokens=stats.billable_tokens * hp.n_epochs,
        has_validation=has_validation,
        seed=seed,
        validation_error=validation_error,
        warnings=stats.warnings,
        graded=graded,
    )


# --- metrics -----------------------------------------------------------------------------


def metrics_for_step(plan: JobPlan, step: int) -> synth.StepMetrics:
    metrics = synth.step_metrics(
        plan.seed,
        step,
        plan.total_steps,
        plan.steps_per_epoch,
        plan.n_epochs,
        plan.learning_rate_multiplier,
        plan.has_validation,
    )
    return synth.with_rewards(metrics) if plan.graded else metrics


def metrics_through(plan: JobPlan, last_step: int) -> tuple[synth.StepMetrics, ...]:
    """Metrics of steps 1..last_step (e.g. snapshot.steps_done), for the result CSV."""
    return tuple(metrics_for_step(plan, step) for step in range(1, last_step + 1))


def checkpoint_metrics(m: synth.StepMetrics) -> dict[str, object]:
    values: dict[str, float | int | None] = {
        "step": m.step,
        "train_loss": m.train_loss,
        "train_mean_token_accuracy": m.train_mean_token_accuracy,
        "valid_loss": m.valid_loss,
        "valid_mean_token_accuracy": m.valid_mean_token_accuracy,
        "full_valid_loss": m.full_valid_loss,
        "full_valid_mean_token_accuracy": m.full_valid_mean_token_accuracy,
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


@dataclass(frozen=True)
class _Terminal:
    at: int
    status: str  # CANCELLED or FAILED
    error: JobError | None


@dataclass(frozen=True)
class _Timeline:
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
                    when = _NEVER
                    break
                when += pause.ended - pause.started
        if self.completed_at is not None and when > self.completed_at:
            return self.completed_at
        return when


def _status_at(plan: JobPlan, timeline: _Timeline, at: int) -> str:
    terminal = timeline.terminal
    if terminal is not None and at >= terminal.at:
        return terminal.status
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


def _failure(item: Intervention) -> JobError:
    return item.error or JobError(DEFAULT_FAILURE_CODE, DEFAULT_FAILURE_MESSAGE)


def _apply(
    plan: JobPlan, interventions: Sequence[Intervention], now: int
) -> tuple[_Timeline, tuple[tuple[int, Intervention], ...]]:
    """Fold the interventions that have happened by `now` into a timeline.

    Interventions are taken in time order (stable, so equal instants keep stored order);
    one that is not allowed in the status at its instant is ignored. A failure set up for a
    planned instant is placed where the other interventions make that instant happen.
    Returns the timeline and the effective interventions with their index in
    `interventions` (for event ids)."""
    fixed = [(i, item) for i, item in enumerate(interventions) if item.planned is None]
    timeline, _ = _fold(plan, fixed, now)
    placed = list(fixed)
    for index, item in enumerate(interventions):
        if item.planned is not None:
            at = timeline.actual(item.planned)
            if at != _NEVER:
                placed.append((index, replace(item, at=max(at, item.at))))
    return _fold(plan, placed, now)


def _fold(
    plan: JobPlan, items: Sequence[tuple[int, Intervention]], now: int
) -> tuple[_Timeline, tuple[tuple[int, Intervention], ...]]:
    timeline = _Timeline()
    effective: list[tuple[int, Intervention]] = []
    for index, item in sorted(items, key=lambda pair: pair[1].at):
        if item.at > now:
            break
        status = _status_at(plan, timeline, item.at)
        if is_terminal(status):
            continue
        open_pause = _open_pause(timeline, held=False)
        open_hold = _open_pause(timeline, held=True)
        if item.kind == PAUSE and can_pause(status):
            pause = _Pause(started=item.at, threshold=item.at - timeline.delay(), ended=None)
            timeline = replace(timeline, pauses=(*timeline.pauses, pause))
        elif item.kind == RESUME and can_resume(status) and open_pause is not None:
            timeline = _end_pause(timeline, open_pause, item.at)
        elif item.kind == HOLD and status in HOLDABLE_STATUSES and open_hold is None:
            hold = _Pause(item.at, item.at - timeline.delay(), None, held=True)
            timeline = replace(timeline, pauses=(*timeline.pauses, hold))
        elif item.kind == RELEASE and open_hold is not None:
            timeline = _end_pause(timeline, open_hold, item.at)
        elif item.kind == CANCEL and can_cancel(status):
            timeline = replace(timeline, terminal=_Terminal(item.at, CANCELLED, None))
        elif item.kind == FAIL:
            terminal = _Terminal(item.at, FAILED, _failure(item))
            timeline = replace(timeline, terminal=terminal)
        elif item.kind == COMPLETE:
            timeline = replace(timeline, completed_at=item.at)
        else:
            continue
        effective.append((index, item))
    return timeline, tuple(effective)


def _open_pause(timeline: _Timeline, *, held: bool) -> int | None:
    for position, pause in enumerate(timeline.pauses):
        if pause.held == held and pause.ended is None:
            return position
    return None


def _end_pause(timeline: _Timeline, position: int, at: int) -> _Timeline:
    pauses = list(timeline.pauses)
    pauses[position] = replace(pauses[position], ended=at)
    return replace(timeline, pauses=tuple(pauses))


# --- snapshot ----------------------------------------------------------------------------


def _message_event(
    job_id: str, key: str, at: int, message: str, level: str = LEVEL_INFO
) -> EventSpec:
    return EventSpec(
        id=synth.make_id(EVENT_ID_PREFIX, job_id, key),
        created_at=at,
        level=level,
        message=message,
        type=EVENT_TYPE_MESSAGE,
        data={},
    )


def _event_steps(plan: JobPlan, steps_done: int) -> list[int]:
    stride = plan.metrics_event_stride
    steps = set(range(stride, steps_done + 1, stride)) | set(plan.checkpoint_steps)
    if steps_done >= 1:
        steps.add(1)
    steps.add(plan.total_steps)
    return sorted(step for step in steps if 1 <= step <= steps_done)


def _step_events(
    plan: JobPlan, timeline: _Timeline, steps_done: int, ctx: JobContext
) -> tuple[list[EventSpec], list[CheckpointSpec]]:
    events: list[EventSpec] = []
    checkpoints: list[CheckpointSpec] = []
    stride = plan.metrics_event_stride
    checkpoint_steps = set(plan.checkpoint_steps)
    for step in _event_steps(plan, steps_done):
        at = timeline.actual(plan.step_times[step - 1])
        metrics = metrics_for_step(plan, step)
        if step % stride == 0 or step in (1, plan.total_steps):
            events.append(
                EventSpec(
                    id=synth.make_id(EVENT_ID_PREFIX, ctx.job_id, f"step-{step}"),
                    created_at=at,
                    level=LEVEL_INFO,
                    message=synth.metrics_event_message(metrics, plan.total_steps),
                    type=EVENT_TYPE_METRICS,
                    data=synth.metrics_event_data(metrics, plan.total_steps),
                )
            )
        if step in checkpoint_steps:
            events.append(
                _message_event(
                    ctx.job_id, f"checkpoint-{step}", at, MSG_CHECKPOINT.format(step=step)
                )
            )
            checkpoints.append(
                CheckpointSpec(
                    id=synth.make_id(CHECKPOINT_ID_PREFIX, ctx.job_id, step),
                    step_number=step,
                    created_at=at,
                    metrics=checkpoint_metrics(metrics),
                    fine_tuned_model_checkpoint=synth.checkpoint_model_name(
                        ctx.fine_tuned_model, step
                    ),
                )
            )
    return events, checkpoints


def snapshot(
    plan: JobPlan, interventions: Sequence[Intervention], now: int, ctx: JobContext
) -> JobSnapshot:
    timeline, effective = _apply(plan, interventions, now)
    status = _status_at(plan, timeline, now)
    terminal = timeline.terminal
    horizon = min(now, terminal.at) if terminal is not None else now

    def happened(planned: int) -> bool:
        return timeline.actual(planned) <= horizon

    validating = (
        MSG_VALIDATING_WITH_VALIDATION.format(
            training_file=ctx.training_file, validation_file=ctx.validation_file
        )
        if ctx.validation_file
        else MSG_VALIDATING.format(training_file=ctx.training_file)
    )
    planned: list[EventSpec] = []
    if happened(plan.created_at):
        planned.append(
            _message_event(
                ctx.job_id, "created", plan.created_at, MSG_CREATED.format(job_id=ctx.job_id)
            )
        )
        planned.append(_message_event(ctx.job_id, "validating", plan.created_at, validating))

    steps_done = 0
    checkpoints: list[CheckpointSpec] = []
    error: JobError | None = terminal.error if terminal is not None else None
    finished_at: int | None = terminal.at if terminal is not None else None
    if happened(plan.validated_at):
        validated_at = timeline.actual(plan.validated_at)
        planned.extend(
            _message_event(ctx.job_id, f"warning-{index}", validated_at, warning, LEVEL_WARN)
            for index, warning in enumerate(plan.warnings)
        )
    if plan.validation_error is not None:
        if happened(plan.validated_at):
            failed_at = timeline.actual(plan.validated_at)
            error, finished_at = plan.validation_error, failed_at
            planned.append(
                _message_event(
                    ctx.job_id,
                    "validation-failed",
                    failed_at,
                    plan.validation_error.message,
                    LEVEL_ERROR,
                )
            )
    else:
        for key, at, message in (
            ("validated", plan.validated_at, MSG_VALIDATED),
            ("started", plan.started_at, MSG_STARTED),
        ):
            if happened(at):
                planned.append(_message_event(ctx.job_id, key, timeline.actual(at), message))
        steps_done = bisect_right(plan.step_times, horizon, key=timeline.actual)
        step_events, checkpoints = _step_events(plan, timeline, steps_done, ctx)
        planned.extend(step_events)
        if happened(plan.finished_at):
            finished_at = timeline.actual(plan.finished_at)
            model_created = MSG_MODEL_CREATED.format(model=ctx.fine_tuned_model)
            planned.append(_message_event(ctx.job_id, "model-created", finished_at, model_created))
            planned.append(_message_event(ctx.job_id, "succeeded", finished_at, MSG_SUCCEEDED))

    intervention_events: list[EventSpec] = []
    for index, item in effective:
        if item.kind in SILENT_INTERVENTIONS:
            continue
        key = f"{item.kind}-{index}"
        if item.kind == FAIL:
            message, level = _failure(item).message, LEVEL_ERROR
        else:
            message = {PAUSE: MSG_PAUSED, RESUME: MSG_RESUMED, CANCEL: MSG_CANCELLED}[item.kind]
            level = LEVEL_INFO
        intervention_events.append(_message_event(ctx.job_id, key, item.at, message, level))

    # Planned events are already in time order; at equal seconds they precede interventions.
    ordered = sorted(
        [(event.created_at, 0, seq, event) for seq, event in enumerate(planned)]
        + [(event.created_at, 1, seq, event) for seq, event in enumerate(intervention_events)],
        key=lambda entry: entry[:3],
    )
    succeeded = status == SUCCEEDED
    return JobSnapshot(
        status=status,
        steps_done=steps_done,
        finished_at=finished_at if is_terminal(status) else None,
        error=error if status == FAILED else None,
        estimated_finish=(
            timeline.actual(plan.finished_at) if status in (QUEUED, RUNNING) else None
        ),
        trained_tokens=plan.trained_tokens if succeeded else None,
        fine_tuned_model=ctx.fine_tuned_model if succeeded else None,
        events=tuple(entry[3] for entry in ordered),
        checkpoints=tuple(checkpoints),
    )
