"""What a job page shows, derived from what the API returns for the job: the job object,
its events and its checkpoints. Pure: the dashboard shows nothing the API does not say.

- progress: the newest metrics event's `step` of `total_steps`;
- the timeline of states: creation, the events that mark a change of state (their wording
  is lifecycle's), and the job's `finished_at`;
- the charts: one vertex per metrics event (every step, up to lifecycle's cap on metrics
  events), full-validation dots at epoch ends, the checkpoints' steps marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mockft import lifecycle
from mockft.dashboard.charts import Chart, Series

METRICS = lifecycle.EVENT_TYPE_METRICS


class EventLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def created_at(self) -> int: ...
    @property
    def level(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> Mapping[str, object] | None: ...  # null for "Fine-tuning job started"


class CheckpointLike(Protocol):
    @property
    def step_number(self) -> int: ...


@dataclass(frozen=True)
class Progress:
    step: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.step / self.total if self.total else 0.0


@dataclass(frozen=True)
class Transition:
    status: str
    at: int


# The events whose message says the job entered a state (lifecycle's wording).
STATE_EVENTS = {
    lifecycle.MSG_VALIDATED: lifecycle.QUEUED,
    lifecycle.MSG_STARTED: lifecycle.RUNNING,
    lifecycle.MSG_PAUSED: lifecycle.PAUSED,
    lifecycle.MSG_RESUMED: lifecycle.RUNNING,
    lifecycle.MSG_CANCELLED: lifecycle.CANCELLED,  # a cancelled job's finished_at is null
}


def progress(events_newest_first: Sequence[EventLike]) -> Progress | None:
    """Steps done of the total, as the newest metrics event tells; None before step 1."""
    for event in events_newest_first:
        if event.type == METRICS and event.data is not None:
            step, total = event.data.get("step"), event.data.get("total_steps")
            if isinstance(step, int) and isinstance(total, int):
                return Progress(step, total)
    return None


def timeline(job: Mapping[str, Any], events_oldest_first: Sequence[EventLike]) -> list[Transition]:
    """Each state the job has been in, with the instant it entered it, oldest first."""
    states = [Transition(lifecycle.VALIDATING_FILES, int(job["created_at"]))]
    for event in events_oldest_first:
        status = STATE_EVENTS.get(event.message) if event.type != METRICS else None
        if status is not None:
            states.append(Transition(status, event.created_at))
    finished = job.get("finished_at")
    ended = lifecycle.is_terminal(job["status"]) and states[-1].status != job["status"]
    if ended and finished is not None:
        states.append(Transition(job["status"], int(finished)))
    return states


@dataclass(frozen=True)
class SeriesSpec:
    key: str
    label: str
    dots: bool = False


CHARTS: tuple[tuple[str, str, tuple[SeriesSpec, ...]], ...] = (
    (
        "loss",
        "Loss",
        (
            SeriesSpec("train_loss", "Training loss"),
            SeriesSpec("valid_loss", "Validation loss"),
            SeriesSpec("full_valid_loss", "Full validation loss", dots=True),
        ),
    ),
    (
        "accuracy",
        "Token accuracy",
        (
            SeriesSpec("train_mean_token_accuracy", "Training accuracy"),
            SeriesSpec("valid_mean_token_accuracy", "Validation accuracy"),
            SeriesSpec("full_valid_mean_token_accuracy", "Full validation accuracy", dots=True),
        ),
    ),
    (
        "reward",
        "Grader reward",
        (
            SeriesSpec("train_reward_mean", "Training reward"),
            SeriesSpec("valid_reward_mean", "Validation reward"),
        ),
    ),
)


def charts(
    events_oldest_first: Sequence[EventLike],
    checkpoints: Sequence[CheckpointLike],
    total_steps: int,
) -> list[Chart]:
    """The charts that have a point: loss and accuracy always once a step is done, the
    grader's reward for reinforcement jobs."""
    metrics = [e.data for e in events_oldest_first if e.type == METRICS and e.data is not None]
    marked = tuple(sorted(c.step_number for c in checkpoints))
    out = []
    for key, title, specs in CHARTS:
        series = tuple(
            Series(spec.key, spec.label, _points(metrics, spec.key), spec.dots) for spec in specs
        )
        chart = Chart(key, title, series, total_steps, marked)
        if not chart.empty:
            out.append(chart)
    return out


def _points(metrics: Sequence[Mapping[str, object]], key: str) -> tuple[tuple[int, float], ...]:
    points = []
    for data in metrics:
        step, value = data.get("step"), data.get(key)
        if isinstance(step, int) and isinstance(value, (int, float)):
            points.append((step, float(value)))
    return tuple(points)
