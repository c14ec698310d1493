"""A fine-tuning job as the service stores it: a typed record, and its JSON form.

`JobRecord.from_doc` reads every form mockft has stored (older data dirs keep working);
`to_doc` writes the current one. A record is immutable: a change is a new record
(`dataclasses.replace`) written back whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mockft import course as courses
from mockft.course import Course
from mockft.lifecycle import (
    AUTO,
    Intervention,
    JobContext,
    JobError,
    JobSnapshot,
    RequestedHyperparameters,
    TrainingStats,
)

OBJECT = "fine_tuning.job"
SUPERVISED = "supervised"
DPO = "dpo"
REINFORCEMENT = "reinforcement"
HYPERPARAMETER_NAMES = ("n_epochs", "batch_size", "learning_rate_multiplier")


@dataclass(frozen=True)
class Outcome:
    """What validating the job's files found: the counts, and the error that fails the job
    at the end of validating_files (None: the files are usable)."""

    stats: TrainingStats
    error: JobError | None = None


@dataclass(frozen=True)
class JobRecord:
    id: str
    organization_id: str
    model: str  # as the job shows it: the base snapshot, or the fine-tuned model trained on
    base_snapshot: str
    created_at: int
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int
    integrations: list[dict[str, Any]]
    metadata: dict[str, str] | None
    method: dict[str, Any]  # as requested (with its "type"); a bare {"type": ...} if none was
    requested: RequestedHyperparameters
    fine_tuned_model: str  # the name the model gets if the job succeeds
    outcome: Outcome | None = None  # None while the files are being validated
    interventions: tuple[Intervention, ...] = ()
    result_files: tuple[str, ...] = ()
    materialized: bool = False  # the result file and models of a success exist
    # Continued fine-tuning: the job whose model (or checkpoint) this job trains from.
    parent_job_id: str | None = None
    course: Course | None = None  # what a scenario's outcome rule decided for the job
    # The project the job was made in (None: its organization's default project): its
    # models' owning project, which checkpoint permissions may not name.
    project_id: str | None = None

    @property
    def method_type(self) -> str:
        return str(self.method["type"])

    @property
    def context(self) -> JobContext:
        return JobContext(
            job_id=self.id,
            training_file=self.training_file,
            validation_file=self.validation_file,
            fine_tuned_model=self.fine_tuned_model,
            created_at=self.created_at,
        )

    def requested_hyperparameters(self) -> dict[str, Any]:
        return {name: getattr(self.requested, name) for name in HYPERPARAMETER_NAMES}

    def to_doc(self) -> dict[str, Any]:
        outcome = None
        if self.outcome is not None:
            stats = self.outcome.stats
            outcome = {
                "stats": {
                    "n_examples": stats.n_examples,
                    "billable_tokens": stats.billable_tokens,
                    "n_validation_examples": stats.n_validation_examples,
                    "warnings": list(stats.warnings),
                },
                "error": _error_doc(self.outcome.error),
            }
        return {
            "object": OBJECT,
            "id": self.id,
            "model": self.model,
            "created_at": self.created_at,
            "organization_id": self.organization_id,
            "training_file": self.training_file,
            "validation_file": self.validation_file,
            "user_provided_suffix": self.suffix,
            "seed": self.seed,
            "integrations": self.integrations,
            "metadata": self.metadata,
            "method": self.method,
            "requested_hyperparameters": self.requested_hyperparameters(),
            "fine_tuned_model_name": self.fine_tuned_model,
            "base_snapshot": self.base_snapshot,
            "outcome": outcome,
            "interventions": [_intervention_doc(i) for i in self.interventions],
            "result_files": list(self.result_files),
            "materialized": self.materialized,
            "parent_job_id": self.parent_job_id,
            **({"course": courses.to_doc(self.course)} if self.course is not None else {}),
            **({"project_id": self.project_id} if self.project_id is not None else {}),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> JobRecord:
        method = doc.get("method") or {"type": doc.get("method_type", SUPERVISED)}
        requested = doc.get("requested_hyperparameters") or {}
        if "outcome" in doc:
            outcome_doc = doc["outcome"]
        else:  # stored before validation ran off the event loop: validated at creation
            outcome_doc = {"stats": doc["stats"], "error": doc.get("validation_error")}
        outcome = None
        if outcome_doc is not None:
            outcome = Outcome(TrainingStats(**outcome_doc["stats"]), _error(outcome_doc["error"]))
        return cls(
            id=doc["id"],
            organization_id=doc["organization_id"],
            model=doc["model"],
            base_snapshot=doc["base_snapshot"],
            created_at=doc["created_at"],
            training_file=doc["training_file"],
            validation_file=doc["validation_file"],
            suffix=doc["user_provided_suffix"],
            seed=doc["seed"],
            integrations=doc["integrations"],
            metadata=doc["metadata"],
            method=method,
            requested=RequestedHyperparameters(
                **{name: requested.get(name, AUTO) for name in HYPERPARAMETER_NAMES}
            ),
            fine_tuned_model=doc["fine_tuned_model_name"],
            outcome=outcome,
            interventions=tuple(
                Intervention(
                    at=i["at"],
                    kind=i["kind"],
                    error=_error(i.get("error")),
                    planned=i.get("planned"),
                )
                for i in doc["interventions"]
            ),
            result_files=tuple(doc["result_files"]),
            materialized=doc["materialized"],
            parent_job_id=doc.get("parent_job_id"),
            course=courses.from_doc(doc["course"]) if doc.get("course") else None,
            project_id=doc.get("project_id"),
        )


@dataclass(frozen=True)
class JobView:
    """A job as it stands at an instant: what the API shows of it (see `wire.jobs`)."""

    record: JobRecord
    snapshot: JobSnapshot


def _error(doc: dict[str, Any] | None) -> JobError | None:
    return JobError(**doc) if doc else None


def _error_doc(error: JobError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "message": error.message, "param": error.param}


def _intervention_doc(item: Intervention) -> dict[str, Any]:
    doc: dict[str, Any] = {"at": item.at, "kind": item.kind}
    if item.error is not None:
        doc["error"] = _error_doc(item.error)
    if item.planned is not None:
        doc["planned"] = item.planned
    return doc
