"""What a scenario's outcome rule decided for one job, kept in the job's record so that the
job runs the same after a restart, and whatever rules are loaded later.

A course is data. It speaks the lifecycle's terms once the job's plan exists (the files
are validated, `Jobs` records what validation found): a failure in `validating_files`
replaces what validation found (the job fails as a bad file fails it), a failure,
cancellation or hold at a later point becomes an intervention set up for that point of
the plan (as `POST /mockft/jobs/{id}/fail {"at_step"}` sets one up), and the pace, the
metric targets and the hyperparameters shape the plan itself. Every point it can name is
at or after the end of validation, so nothing a job showed before its plan existed ever
changes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from mockft.lifecycle import (
    AUTO,
    CANCEL,
    FAIL,
    HOLD,
    QUEUED,
    RUNNING,
    VALIDATING_FILES,
    Hyperparameters,
    Intervention,
    JobError,
    JobPlan,
    Pace,
    RequestedHyperparameters,
    resolve_hyperparameters,
)
from mockft.synth import MetricTargets

SUCCEED: Final = "succeed"
ENDS: Final = (SUCCEED, FAIL, CANCEL, HOLD)
POINT_STATES: Final = (VALIDATING_FILES, QUEUED, RUNNING)


@dataclass(frozen=True)
class JobFacts:
    """What an outcome rule may match a new job on."""

    organization: str  # the organization's name
    model: str  # as requested (an alias, a snapshot or a fine-tuned model)
    base_snapshot: str
    method: str
    suffix: str | None
    metadata: dict[str, str] | None
    training_filename: str


@dataclass(frozen=True)
class Course:
    rule: str | None = None
    """The rule that chose it (its name, or its place in its file), for people reading."""
    end: str = SUCCEED
    """succeed, fail, cancel or hold (stay where `state` / `step` says until released)."""
    state: str | None = None
    """The point: on entering this state (validating_files, queued, running)..."""
    step: int | None = None
    """... or at the end of this step (past the job's last step: at its last step)."""
    error: JobError | None = None
    pace: Pace | None = None
    targets: MetricTargets | None = None
    n_epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    steps: int | None = None
    """About this many training steps: sets the batch size that gives them."""

    def __post_init__(self) -> None:
        if self.end not in ENDS:
            raise ValueError(f"unknown end of a course: {self.end!r}")
        if self.state is not None and self.state not in POINT_STATES:
            raise ValueError(f"a course's state is one of {POINT_STATES}: {self.state!r}")

    # -- before the plan ---------------------------------------------------------------

    def at_creation(self, created_at: int) -> tuple[Intervention, ...]:
        """A hold in `validating_files` takes the job from its first instant."""
        if self.end == HOLD and self.point_state == VALIDATING_FILES:
            return (Intervention(created_at, HOLD),)
        return ()

    def hyperparameters(
        self, requested: RequestedHyperparameters, n_examples: int, model: str
    ) -> Hyperparameters:
        """The plan's hyperparameters: the rule's values where the job asked for "auto"
        (what the job shows as requested does not change), and for `steps` the batch size
        that gives about that many."""
        aimed = requested
        if self.n_epochs is not None and requested.n_epochs == AUTO:
            aimed = replace(aimed, n_epochs=self.n_epochs)
        if self.batch_size is not None and requested.batch_size == AUTO:
            aimed = replace(aimed, batch_size=self.batch_size)
        multiplier = self.learning_rate_multiplier
        if multiplier is not None and requested.learning_rate_multiplier == AUTO:
            aimed = replace(aimed, learning_rate_multiplier=multiplier)
        resolved = resolve_hyperparameters(aimed, n_examples, model)
        if self.steps is not None and aimed.batch_size == AUTO:
            batch_size = max(1, math.ceil(max(1, n_examples) * resolved.n_epochs / self.steps))
            resolved = resolve_hyperparameters(
                replace(aimed, batch_size=batch_size), n_examples, model
            )
        return resolved

    def validation_error(self, found: JobError | None) -> JobError | None:
        """What fails the job at the end of validation: a failure set for
        `validating_files`, else what validation found."""
        if found is None and self.end == FAIL and self.point_state == VALIDATING_FILES:
            return self.error
        return found

    # -- once the plan exists ----------------------------------------------------------

    def interventions(self, plan: JobPlan) -> tuple[Intervention, ...]:
        """The failure, cancellation or hold set up at its point of the plan."""
        if self.end == SUCCEED or plan.validation_error is not None:
            return ()
        state = self.point_state
        if self.end in (FAIL, HOLD) and state == VALIDATING_FILES and self.step is None:
            return ()  # done by `validation_error` / `at_creation`
        if self.step is not None and plan.total_steps:
            planned = plan.step_time(min(self.step, plan.total_steps))
        elif state == RUNNING:
            planned = plan.started_at
        elif state == QUEUED:
            planned = plan.validated_at
        else:  # a cancellation while validating: the last second of validation
            planned = plan.validated_at - 1
        error = self.error if self.end == FAIL else None
        return (Intervention(plan.created_at, self.end, error, planned),)

    @property
    def point_state(self) -> str | None:
        """The state of the point (None: a step). With neither, a failure of a file's error
        code happens in validation and anything else when training starts."""
        if self.step is not None:
            return None
        if self.state is not None:
            return self.state
        if self.end == FAIL and self.error is not None and self.error.code in FILE_ERROR_CODES:
            return VALIDATING_FILES
        return RUNNING


# The error codes of a training file the real service refuses: failures with these happen
# at the end of validation unless a rule names another point.
FILE_ERROR_CODES: Final = frozenset(
    {"invalid_file_format", "invalid_training_file", "invalid_n_examples", "invalid_file"}
)


# -- the stored form ------------------------------------------------------------------------


def to_doc(course: Course) -> dict[str, Any]:
    doc: dict[str, Any] = {"rule": course.rule, "end": course.end}
    for name in ("state", "step", "n_epochs", "batch_size", "learning_rate_multiplier", "steps"):
        value = getattr(course, name)
        if value is not None:
            doc[name] = value
    if course.error is not None:
        doc["error"] = asdict(course.error)
    if course.pace is not None:
        doc["pace"] = asdict(course.pace)
    if course.targets is not None:
        doc["targets"] = asdict(course.targets)
    return doc


def from_doc(doc: dict[str, Any]) -> Course:
    pace = doc.get("pace")
    targets = doc.get("targets")
    error = doc.get("error")
    return Course(
        rule=doc.get("rule"),
        end=doc.get("end", SUCCEED),
        state=doc.get("state"),
        step=doc.get("step"),
        error=JobError(**error) if error else None,
        pace=(
            Pace(
                queue_seconds=_pair(pace.get("queue_seconds")),
                step_seconds=_pair(pace.get("step_seconds")),
                duration_scale=pace.get("duration_scale", 1.0),
            )
            if pace
            else None
        ),
        targets=MetricTargets(**targets) if targets else None,
        n_epochs=doc.get("n_epochs"),
        batch_size=doc.get("batch_size"),
        learning_rate_multiplier=doc.get("learning_rate_multiplier"),
        steps=doc.get("steps"),
    )


def _pair(value: list[float] | None) -> tuple[float, float] | None:
    return None if value is None else (float(value[0]), float(value[1]))
