"""Fine-tuning jobs, their events and checkpoints, as the API writes them.

Field order and values follow captures of the real API (see docs/fidelity.md): `error` is
`{}` until a job fails; `hyperparameters` is null for jobs that are not supervised;
`estimated_finish` is null (no capture shows a value), and so is a cancelled job's
`finished_at` (simple-openai's 2023-11 job list); the method shows the
hyperparameters the job uses once they resolve. Events and checkpoints are built in wire
form by `joblog` (a dataclass with the API's fields in its order).
"""

from __future__ import annotations

from typing import Any

from mockft.job_record import OBJECT, SUPERVISED, JobView
from mockft.lifecycle import CANCELLED, SUCCEEDED, Checkpoint, Event, Hyperparameters, JobError


def job(view: JobView) -> dict[str, Any]:
    record, snap = view.record, view.snapshot
    shown = (
        _resolved(snap.hyperparameters)
        if snap.hyperparameters is not None
        else record.requested_hyperparameters()
    )
    shown["learning_rate_multiplier"] = _number(shown["learning_rate_multiplier"])
    return {
        "object": OBJECT,
        "id": record.id,
        "model": record.model,
        "created_at": record.created_at,
        "finished_at": None if snap.status == CANCELLED else snap.finished_at,
        "fine_tuned_model": snap.fine_tuned_model,
        "organization_id": record.organization_id,
        "result_files": list(record.result_files) if snap.status == SUCCEEDED else [],
        "status": snap.status,
        "validation_file": record.validation_file,
        "training_file": record.training_file,
        "hyperparameters": shown if record.method_type == SUPERVISED else None,
        "trained_tokens": snap.trained_tokens,
        "error": error(snap.error),
        "user_provided_suffix": record.suffix,
        "seed": record.seed,
        "estimated_finish": None,
        "integrations": record.integrations,
        "metadata": record.metadata,
        "method": _method(record.method, shown),
    }


def error(failure: JobError | None) -> dict[str, Any]:
    """A job's `error`: `{}` (not null) on a job that has not failed."""
    if failure is None:
        return {}
    return {"code": failure.code, "message": failure.message, "param": failure.param}


def _number(value: Any) -> Any:
    """An integral multiplier as a JSON integer, as the real API writes it (`2`, `1.8`)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _resolved(hp: Hyperparameters) -> dict[str, Any]:
    return {
        "n_epochs": hp.n_epochs,
        "batch_size": hp.batch_size,
        "learning_rate_multiplier": hp.learning_rate_multiplier,
    }


def _method(method: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    """The method as requested, its hyperparameters showing what the job uses now."""
    kind = method["type"]
    chosen = dict(method.get(kind) or {})
    chosen["hyperparameters"] = {**dict(chosen.get("hyperparameters") or {}), **shown}
    return {**method, kind: chosen}


def event(e: Event) -> Event:
    """An event is built in wire form (`joblog.Event`: the API's fields, in its order): orjson
    writes the dataclass as it is, which keeps the most polled list cheap."""
    return e


def events(page: list[Event]) -> list[Event]:
    """A page of events, in wire form (see `event`)."""
    return page


def checkpoint(c: Checkpoint) -> Checkpoint:
    """Like events, a checkpoint is built in wire form (`joblog.Checkpoint`)."""
    return c


def checkpoints(page: list[Checkpoint]) -> list[Checkpoint]:
    return page
