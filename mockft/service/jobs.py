"""Fine-tuning jobs: stored inputs and interventions; everything else is derived from
the pure timeline at the clock's "now"."""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from mockft import errors, graders, lifecycle, synth
from mockft import validation as validation_rules
from mockft.auth import Organization
from mockft.pagination import PageRequest
from mockft.schemas import CreateFineTuningJob
from mockft.service import learning
from mockft.service.context import Context, Part
from mockft.service.files import FILE, Files
from mockft.service.models import Models

JOB = "job"
JOB_PREFIX = "ftjob-"
RESULT_FILENAME = "step_metrics.csv"
RESULT_PURPOSE = "fine-tune-results"
FT_PREFIX = "ft:"
SUPERVISED = "supervised"
REINFORCEMENT = "reinforcement"


class Jobs(Part):
    def __init__(self, ctx: Context, files: Files, models: Models) -> None:
        super().__init__(ctx)
        self.files = files
        self.models = models

    def create(self, org: Organization, request: CreateFineTuningJob) -> dict[str, Any]:
        base = self._fine_tunable_base(org, request.model)
        method = request.method.type if request.method else SUPERVISED
        if request.method is not None and request.hyperparameters is not None:
            raise errors.invalid(
                "Specify hyperparameters either in 'method' or at the top level, not both.",
                "hyperparameters",
            )
        if method == REINFORCEMENT:
            reinforcement = request.method.reinforcement if request.method else None
            if reinforcement is None:
                raise errors.missing_param("method.reinforcement")
            graders.parse_grader(reinforcement.grader, "method.reinforcement.grader")
        training = self._job_file(org, request.training_file, "training_file")
        validation = (
            self._job_file(org, request.validation_file, "validation_file")
            if request.validation_file
            else None
        )
        now = self.now()
        job_id = self.new_id(JOB_PREFIX)
        seed = (
            request.seed
            if request.seed is not None
            else synth.draw_seed(self.settings.seed, job_id)
        )
        stats, failure = self._training_stats(training, validation, base, method)
        requested = request.method.hyperparameters() if request.method else request.hyperparameters
        hyper = requested.model_dump() if requested else {}
        model_name = synth.fine_tuned_model_name(
            base, org.name, request.suffix, synth.model_tag(seed, job_id)
        )
        doc: dict[str, Any] = {
            "object": "fine_tuning.job",
            "id": job_id,
            "model": request.model if request.model.startswith(FT_PREFIX) else base,
            "created_at": now,
            "organization_id": org.id,
            "training_file": training["id"],
            "validation_file": validation["id"] if validation else None,
            "user_provided_suffix": request.suffix,
            "seed": seed,
            "integrations": [i.model_dump(exclude_none=True) for i in request.integrations or []],
            "metadata": request.metadata,
            "method_type": method,
            "method": request.method.model_dump(exclude_none=True) if request.method else None,
            "requested_hyperparameters": {
                k: hyper.get(k, "auto")
                for k in ("n_epochs", "batch_size", "learning_rate_multiplier")
            },
            "stats": {
                "n_examples": stats.n_examples,
                "billable_tokens": stats.billable_tokens,
                "n_validation_examples": stats.n_validation_examples,
                "warnings": list(stats.warnings),
            },
            "validation_error": failure,
            "fine_tuned_model_name": model_name,
            "base_snapshot": base,
            "interventions": [],
            "result_files": [],
            "materialized": False,
        }
        self.store.insert(JOB, job_id, org.id, doc)
        return self._job_view(org, _job_of(doc))

    def _fine_tunable_base(self, org: Organization, model: str) -> str:
        """The base snapshot a job on `model` trains: an alias resolves to its snapshot, a
        fine-tuned model of this organization to the snapshot it was trained from."""
        if model.startswith(FT_PREFIX):
            tuned = self.models.tuned_base(org, model)
            if tuned is not None:
                return tuned
        else:
            entry = self.catalog.resolve(model)
            if entry is not None and self.catalog.fine_tuning(model) is not None:
                return entry.id
        raise errors.invalid(
            f"Model {model} is not available for fine-tuning or does not exist.",
            "model",
            "model_not_available",
        )

    def _job_file(self, org: Organization, file_id: str, param: str) -> dict[str, Any]:
        doc = self.store.get(FILE, file_id, org.id, self.now())
        if doc is None:
            raise errors.invalid(f"invalid {param}: {file_id}", param)
        if doc["purpose"] != "fine-tune":
            raise errors.invalid(
                f"invalid {param}: {file_id}. The file has purpose '{doc['purpose']}'; "
                "fine-tuning requires a file with purpose 'fine-tune'.",
                param,
            )
        return doc

    def _training_stats(
        self,
        training: dict[str, Any],
        validation: dict[str, Any] | None,
        snapshot: str,
        method: str,
    ) -> tuple[lifecycle.TrainingStats, dict[str, Any] | None]:
        """Example and token counts from `validation.validate_file`, the one judge of
        training data. A model that cannot be tuned with `method` is a 400 now; a problem
        found in a file becomes the job's error at the end of `validating_files`, and the
        files' warnings become warn-level events there."""
        spec = self.catalog.fine_tuning(snapshot)
        if spec is None:  # a model that is tunable was resolved before this call
            raise errors.server_error()
        unsupported = validation_rules.method_error(snapshot, spec, method)
        if unsupported is not None:
            raise errors.invalid(unsupported, "model", "model_not_available")

        def check(file_id: str, purpose: str) -> validation_rules.ValidationReport:
            return validation_rules.validate_file(
                self.blobs.read(file_id),
                model=snapshot,
                model_spec=spec,
                method=method,
                purpose=purpose,
                source=file_id,
            )

        train = check(training["id"], validation_rules.TRAINING_FILE)
        problem = train.job_error()
        warnings = list(train.warnings)
        n_valid = 0
        if validation is not None and problem is None:
            checked = check(validation["id"], validation_rules.VALIDATION_FILE)
            n_valid, problem = checked.n_examples, checked.job_error()
            warnings.extend(checked.warnings)
        stats = lifecycle.TrainingStats(
            train.n_examples, train.billable_tokens, n_valid, tuple(warnings)
        )
        return stats, problem

    def _observe(self, org: Organization, job: _Job) -> tuple[_Job, lifecycle.JobSnapshot]:
        """What is true of the job now; the first observation of success materialises
        its result file and models (idempotently), and answers with the updated job."""
        snap = _snapshot_of(job.plan, job.interventions, self.now(), job.context)
        if snap.status == lifecycle.SUCCEEDED and not job.doc["materialized"]:
            doc = self._job_doc(org, job.doc["id"])  # a copy of its own to update
            if not doc["materialized"]:  # `job` may be a decoding older than the store's
                self._materialise(org, doc, job.plan, snap)
            job = _job_of(doc)
        return job, snap

    def _materialise(
        self,
        org: Organization,
        doc: dict[str, Any],
        plan: lifecycle.JobPlan,
        snap: lifecycle.JobSnapshot,
    ) -> None:
        content = base64.b64encode(
            synth.result_csv(lifecycle.metrics_through(plan, snap.steps_done))
        )
        result_id = self.files.write_generated(content)
        created = snap.finished_at or self.now()
        names = [doc["fine_tuned_model_name"]] + [
            c.fine_tuned_model_checkpoint for c in snap.checkpoints
        ]
        # What the models learned is fixed now, whatever later happens to the training file.
        learning.learn(self.ctx, doc["id"], doc["training_file"])
        with self.store.transaction():  # the File, the models and the flag, or none of them
            self.files.store_file(
                org, result_id, RESULT_FILENAME, RESULT_PURPOSE, len(content), None
            )
            for name in names:
                self.models.register(org, name, created, doc["base_snapshot"], doc["id"])
            doc["result_files"] = [result_id]
            doc["materialized"] = True
            self.store.update(JOB, doc["id"], doc)

    def _job_doc(self, org: Organization, job_id: str) -> dict[str, Any]:
        doc = self.store.get(JOB, job_id, org.id, self.now())
        if doc is None:
            raise errors.job_not_found(job_id)
        return doc

    def _job(self, org: Organization, job_id: str) -> _Job:
        """The job for reading: decoded once per stored version (see `_decoded`)."""
        text = self.store.get_encoded(JOB, job_id, org.id, self.now())
        if text is None:
            raise errors.job_not_found(job_id)
        return _decoded(text)

    def _job_view(self, org: Organization, job: _Job) -> dict[str, Any]:
        job, snap = self._observe(org, job)
        doc, plan = job.doc, job.plan
        hyper: dict[str, Any] = dict(doc["requested_hyperparameters"])
        if snap.status in TRAINING_STARTED or snap.steps_done > 0:  # "auto" is resolved
            hyper = {
                "n_epochs": plan.n_epochs,
                "batch_size": plan.batch_size,
                "learning_rate_multiplier": plan.learning_rate_multiplier,
            }
        error = snap.error
        return {
            "object": "fine_tuning.job",
            "id": doc["id"],
            "model": doc["model"],
            "created_at": doc["created_at"],
            "finished_at": snap.finished_at,
            "fine_tuned_model": snap.fine_tuned_model,
            "organization_id": doc["organization_id"],
            "result_files": doc["result_files"] if snap.status == lifecycle.SUCCEEDED else [],
            "status": snap.status,
            "validation_file": doc["validation_file"],
            "training_file": doc["training_file"],
            "hyperparameters": hyper,
            "trained_tokens": snap.trained_tokens,
            "error": (
                {"code": error.code, "message": error.message, "param": error.param}
                if error
                else None
            ),
            "user_provided_suffix": doc["user_provided_suffix"],
            "seed": doc["seed"],
            "estimated_finish": snap.estimated_finish,
            "integrations": doc["integrations"],
            "metadata": doc["metadata"],
            "method": _method_view(doc["method"] or {"type": doc["method_type"]}, hyper),
        }

    def get(self, org: Organization, job_id: str) -> dict[str, Any]:
        return self._job_view(org, self._job(org, job_id))

    def page(
        self, org: Organization, page: PageRequest, metadata: dict[str, str] | None
    ) -> list[dict[str, Any]]:
        docs = self.store.page(JOB, org.id, page, self.now(), match=metadata)
        return [self._job_view(org, _job_of(d)) for d in docs]

    def intervene(
        self,
        org: Organization,
        job_id: str,
        kind: str,
        error: lifecycle.JobError | None = None,
        when: FailurePoint | None = None,
    ) -> dict[str, Any]:
        """Cancel, pause or resume (the API), or fail, complete, hold or release (the
        control API). A failure with `when` happens at that point of the plan instead of
        now."""
        # A fresh document of its own (not the shared decoding of `_job`): it is updated.
        job, snap = self._observe(org, _job_of(self._job_doc(org, job_id)))
        doc, plan = job.doc, job.plan
        held = sum(HOLD_BALANCE.get(i["kind"], 0) for i in doc["interventions"]) > 0
        allowed = ALLOWED_IN[kind](snap.status) and (held if kind == lifecycle.RELEASE else True)
        if kind == lifecycle.HOLD and held:
            allowed = False
        if not allowed:
            raise errors.invalid(
                JOB_STATE_MESSAGES[kind].format(job_id=job_id, status=snap.status), "job_id"
            )
        entry: dict[str, Any] = {"at": self.now(), "kind": kind}
        if error is not None:
            entry["error"] = {"code": error.code, "message": error.message, "param": error.param}
        if when is not None:
            entry["planned"] = when.instant(plan)
        doc["interventions"].append(entry)
        self.store.update(JOB, job_id, doc)
        return self._job_view(org, _job_of(doc))

    def events(self, org: Organization, job_id: str) -> Sequence[lifecycle.EventSpec]:
        """Newest first."""
        _, snap = self._observe(org, self._job(org, job_id))
        return snap.events_newest_first

    def checkpoints(self, org: Organization, job_id: str) -> Sequence[lifecycle.CheckpointSpec]:
        """Newest first."""
        _, snap = self._observe(org, self._job(org, job_id))
        return snap.checkpoints_newest_first

    def find(self, job_id: str) -> tuple[Organization, dict[str, Any]]:
        """Control API: a job of any organization."""
        doc = self.store.get(JOB, job_id, None, self.now())
        if doc is None:
            raise errors.job_not_found(job_id)
        org = self.ctx.keys.organization(doc["organization_id"])
        return org, doc


TRAINING_STARTED = frozenset({lifecycle.RUNNING, lifecycle.PAUSED, lifecycle.SUCCEEDED})


def _method_view(method: dict[str, Any], hyper: dict[str, Any]) -> dict[str, Any]:
    """The method as requested, its hyperparameters showing what the job uses now."""
    kind = method["type"]
    chosen = dict(method.get(kind) or {})
    chosen["hyperparameters"] = {**dict(chosen.get("hyperparameters") or {}), **hyper}
    return {**method, kind: chosen}


# A job's plan and its snapshot at an instant are pure functions of hashable inputs, so they
# are memoised: polling a job (or paging its events) at the same instant costs a lookup. A
# stored job's text is decoded into those inputs once per version of the text.
PLAN_CACHE_SIZE = 4096
SNAPSHOT_CACHE_SIZE = 4096
DECODED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class _Job:
    """A stored job document with the hashable inputs of its timeline. `doc` may be shared
    by every reader of the same stored text: read it, never change it."""

    doc: dict[str, Any]
    plan: lifecycle.JobPlan
    interventions: tuple[lifecycle.Intervention, ...]
    context: lifecycle.JobContext


def _job_of(doc: dict[str, Any]) -> _Job:
    failure = doc["validation_error"]
    plan = _plan_of(
        doc["created_at"],
        lifecycle.TrainingStats(**doc["stats"]),
        lifecycle.RequestedHyperparameters(**doc["requested_hyperparameters"]),
        doc["seed"],
        lifecycle.JobError(**failure) if failure else None,
        doc["method_type"] == REINFORCEMENT,
    )
    interventions = tuple(
        lifecycle.Intervention(
            at=i["at"],
            kind=i["kind"],
            error=lifecycle.JobError(**i["error"]) if i.get("error") else None,
            planned=i.get("planned"),
        )
        for i in doc["interventions"]
    )
    context = lifecycle.JobContext(
        job_id=doc["id"],
        training_file=doc["training_file"],
        validation_file=doc["validation_file"],
        fine_tuned_model=doc["fine_tuned_model_name"],
    )
    return _Job(doc, plan, interventions, context)


@functools.lru_cache(maxsize=DECODED_CACHE_SIZE)
def _decoded(text: str) -> _Job:
    """Equal stored texts are equal documents: a poll of an unchanged job decodes nothing."""
    return _job_of(orjson.loads(text))


@functools.lru_cache(maxsize=PLAN_CACHE_SIZE)
def _plan_of(
    created_at: int,
    stats: lifecycle.TrainingStats,
    requested: lifecycle.RequestedHyperparameters,
    seed: int,
    failure: lifecycle.JobError | None,
    graded: bool,
) -> lifecycle.JobPlan:
    return lifecycle.plan_job(
        created_at=created_at,
        stats=stats,
        hyperparameters=lifecycle.resolve_hyperparameters(requested, stats.n_examples),
        seed=seed,
        validation_error=failure,
        graded=graded,
    )


@functools.lru_cache(maxsize=SNAPSHOT_CACHE_SIZE)
def _snapshot_of(
    plan: lifecycle.JobPlan,
    interventions: tuple[lifecycle.Intervention, ...],
    now: int,
    ctx: lifecycle.JobContext,
) -> lifecycle.JobSnapshot:
    return lifecycle.snapshot(plan, interventions, now, ctx)


def _not_terminal(status: str) -> bool:
    return not lifecycle.is_terminal(status)


def _holdable(status: str) -> bool:
    return status in lifecycle.HOLDABLE_STATUSES


ALLOWED_IN: dict[str, Callable[[str], bool]] = {
    lifecycle.CANCEL: lifecycle.can_cancel,
    lifecycle.PAUSE: lifecycle.can_pause,
    lifecycle.RESUME: lifecycle.can_resume,
    lifecycle.FAIL: _not_terminal,
    lifecycle.COMPLETE: _not_terminal,
    lifecycle.HOLD: _holdable,
    lifecycle.RELEASE: _not_terminal,
}
HOLD_BALANCE = {lifecycle.HOLD: 1, lifecycle.RELEASE: -1}
FAILURE_STATES = ("validating_files", "queued", "running")


@dataclass(frozen=True)
class FailurePoint:
    """Where a failure set up in advance happens: at the end of a step, or on entering a
    state (the end of validation for "queued", the start of training for "running")."""

    step: int | None = None
    state: str | None = None

    def instant(self, plan: lifecycle.JobPlan) -> int:
        if self.step is not None:
            if not 1 <= self.step <= plan.total_steps:
                raise errors.invalid(
                    f"at_step must be between 1 and {plan.total_steps} for this job.", "at_step"
                )
            return plan.step_times[self.step - 1]
        instants = {
            "validating_files": plan.created_at,
            "queued": plan.validated_at,
            "running": plan.started_at,
        }
        if self.state not in instants:
            raise errors.invalid_value("in_state", self.state, list(FAILURE_STATES))
        return instants[self.state]


JOB_STATE_MESSAGES = {
    lifecycle.CANCEL: "Job {job_id} cannot be cancelled because it is {status}.",
    lifecycle.PAUSE: "Job {job_id} cannot be paused because it is {status}; only running "
    "jobs can be paused.",
    lifecycle.RESUME: "Job {job_id} cannot be resumed because it is {status}; only paused "
    "jobs can be resumed.",
    lifecycle.FAIL: "Job {job_id} cannot be failed because it is already {status}.",
    lifecycle.COMPLETE: "Job {job_id} cannot be completed because it is already {status}.",
    lifecycle.HOLD: "Job {job_id} cannot be held: it is {status} or already held.",
    lifecycle.RELEASE: "Job {job_id} cannot be released: it is {status} and not held.",
}
