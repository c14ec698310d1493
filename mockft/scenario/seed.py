"""Loading a scenario into a service: everything is checked first (a scenario with a
problem changes nothing), then the state is written.

Seeded objects get the ids the scenario gives, or ids derived from what they are, so that
loading the same scenario again (a restart on the same data dir, a reset) finds them and
leaves them as they are.

A seeded job is a job like any other: a record the lifecycle reads at the clock's instant.
For a job given by its `status`, the loader picks the instant it was created so that the
timing model has it in that status now (or at `finished_at`), and records the
interventions that make a failure, a cancellation, a pause or a hold; the service then
materialises a success's result file and models as it would for any job, and what the
model learned from its training file.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mockft import errors, lifecycle, synth, validation
from mockft.auth import Organization
from mockft.config import parse_key
from mockft.course import Course
from mockft.job_record import HYPERPARAMETER_NAMES, JobRecord, Outcome
from mockft.lifecycle import CANCEL, FAIL, HOLD, PAUSE, Intervention, JobError
from mockft.scenario import model as shapes
from mockft.scenario.loader import Item, Loaded, Problem, ScenarioInvalid
from mockft.scenario.models import changed_catalog
from mockft.scenario.positions import line_of
from mockft.scenario.rules import AnswerMatcher, OutcomeMatcher, course_of, failure
from mockft.schemas import ExpiresAfter, Method, parse
from mockft.service.chaos import Chaos, ChaosSpec, PatternError
from mockft.service.files import (
    FILE,
    FILE_PREFIX,
    FINE_TUNE_EXTENSION,
    MAX_FILENAME_LENGTH,
    first_non_dict_line,
)
from mockft.service.jobs import (
    FINE_TUNE_PURPOSE,
    FT_PREFIX,
    JOB,
    JOB_PREFIX,
    plan_of,
    validate_files,
    with_course,
)
from mockft.service.models import MODEL
from mockft.wire.permissions import Permission

if TYPE_CHECKING:
    from mockft.catalog import Catalog
    from mockft.service import Service
    from mockft.store import Blobs

SCENARIO_ID_DOMAIN = "scenario"
# A seeded file without a created_at was uploaded this long before the first seeded job
# that trains on it (or when the scenario loads, if none does).
UPLOAD_LEAD_SECONDS = 60
RESULT_PURPOSE = "fine-tune-results"


@dataclass
class _File:
    item: Item[shapes.FileSpec]
    org: Organization
    id: str
    content: bytes | None  # None: the result file of a job (`result_of`)
    exists: bool


@dataclass
class _Job:
    item: Item[shapes.JobSpec]
    org: Organization
    record: JobRecord
    exists: bool


@dataclass
class _Grant:
    item: Item[shapes.PermissionSpec]
    org: Organization
    model: str  # the fine-tuned or checkpoint model granted


@dataclass
class Summary:
    """What a load did, as the control API answers it."""

    sources: list[str]
    organizations: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    models: dict[str, list[str]] = field(default_factory=dict)
    chaos: list[str] = field(default_factory=list)
    permissions: list[dict[str, Any]] = field(default_factory=list)
    outcomes: int = 0
    answers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": "mockft.scenario",
            "sources": self.sources,
            "organizations": self.organizations,
            "files": self.files,
            "jobs": self.jobs,
            "models": self.models,
            "chaos": self.chaos,
            "permissions": self.permissions,
            "outcomes": self.outcomes,
            "answers": self.answers,
        }


class Seeding:
    """One load of a scenario into `service`: `prepare` finds every problem (and raises
    them all), `commit` writes. `at_start`: the server is starting with the scenario, whose
    clock and keys are already in its settings. `only_org`: the objects (and chaos rules)
    of one organization only, after that organization's reset."""

    def __init__(
        self,
        service: Service,
        loaded: Loaded,
        *,
        at_start: bool = False,
        only_org: str | None = None,
    ) -> None:
        self.service = service
        self.loaded = loaded
        self.at_start = at_start
        self.only_org = only_org
        self.now = service.ctx.now()
        self.problems: list[Problem] = []
        self.catalog: Catalog = service.ctx.catalog
        self.orgs: dict[str, Organization] = {}
        self.new_keys: list[str] = []
        self.new_admin_keys: list[str] = []
        self.permissions: list[_Grant] = []
        self.files: list[_File] = []
        self.jobs: list[_Job] = []
        self.chaos: list[tuple[ChaosSpec, str | None, Item[shapes.ChaosRuleSpec]]] = []
        self.outcomes: list[OutcomeMatcher] = []
        self.answers: list[AnswerMatcher] = []
        self.uploaded: dict[str | None, int] = {}  # default created_at of seeded files

    # -- checking ---------------------------------------------------------------------------

    def prepare(self) -> Seeding:
        loaded = self.loaded
        if self.only_org is None:
            self.catalog = changed_catalog(
                self.catalog, loaded.models_removed, loaded.models_added, self.problems
            )
        self._organizations()
        for file in loaded.files:
            self._file(file)
        tuned: dict[str, tuple[str, str]] = {}  # model -> (base snapshot, job), jobs so far
        for job in loaded.jobs:
            self._job(job, tuned)
        for rule in loaded.chaos:
            self._chaos(rule)
        for permission in loaded.permissions:
            self._permission(permission)
        if self.only_org is None:
            for index, outcome in enumerate(loaded.outcomes):
                self._outcome(outcome, index)
            for answer in loaded.answers:
                self._answer(answer)
        if self.problems:
            raise ScenarioInvalid(self.problems)
        return self

    def _organizations(self) -> None:
        service = self.service
        default = service.keys.default
        self.orgs[default.name] = default
        for entry in (*service.settings.api_keys, *service.settings.admin_keys):
            _, name, _ = parse_key(entry)
            if name:
                self.orgs[name] = Organization.named(name)
        configured = _configured_keys(service)
        for item in self.loaded.organizations:
            spec = item.spec
            self.orgs[spec.name] = Organization.named(spec.name)
            for entry, admin, path in declared_keys(spec):
                key, owner = entry.partition("=")[0], _owner(entry, admin, spec.name)
                known = configured.get(key)
                if key in service.settings.control_keys:
                    self.problems.append(item.origin.problem("a control key", *path))
                elif known is not None and known != owner:
                    self.problems.append(item.origin.problem(f"already a key of {known}", *path))
                elif known is None:
                    configured[key] = owner
                    (self.new_admin_keys if admin else self.new_keys).append(entry)

    def _org(self, name: str | None, origin: Any) -> Organization | None:
        org = self.orgs.get(name or self.service.keys.default.name)
        if org is None:
            self.problems.append(
                origin.problem(
                    f"no organization {name} (declare it under [[organizations]] with its keys)",
                    "org",
                )
            )
        return org

    def _wanted(self, org: Organization | None) -> bool:
        return org is not None and (self.only_org is None or org.id == self.only_org)

    def _file(self, item: Item[shapes.FileSpec]) -> None:
        spec, origin = item.spec, item.origin
        org = self._org(spec.org, origin)
        if org is None or not self._wanted(org):
            return
        file_id = spec.id or synth.make_id(FILE_PREFIX, SCENARIO_ID_DOMAIN, org.name, spec.name)
        exists = self.service.store.get(FILE, file_id, None, self.now) is not None
        content = None if exists else self._content(item)
        if content is None and not exists and spec.result_of is None:
            return  # a problem was recorded
        if len(spec.name) > MAX_FILENAME_LENGTH:
            self.problems.append(origin.problem(f"longer than {MAX_FILENAME_LENGTH}", "name"))
        uploaded = spec.result_of is None  # a job's result file is named by the job
        if (
            uploaded
            and spec.purpose == FINE_TUNE_PURPOSE
            and not spec.name.endswith(FINE_TUNE_EXTENSION)
        ):
            self.problems.append(
                origin.problem("a fine-tune file's name ends with .jsonl (as the API asks)", "name")
            )
        if content is not None and spec.purpose == FINE_TUNE_PURPOSE:
            bad = first_non_dict_line(iter([content]))
            if bad is not None:
                self.problems.append(
                    origin.problem(
                        f"line {bad[0]} is not a JSON object: the Files API refuses such a file"
                    )
                )
        self.files.append(_File(item, org, file_id, content, exists))

    def _content(self, item: Item[shapes.FileSpec]) -> bytes | None:
        spec, origin = item.spec, item.origin
        if spec.result_of is not None:
            return None
        if spec.content is not None:
            return spec.content.encode()
        if spec.content_base64 is not None:
            try:
                return base64.b64decode(spec.content_base64, validate=True)
            except (binascii.Error, ValueError):
                self.problems.append(origin.problem("not base64", "content_base64"))
                return None
        base = origin.document.base
        if base is None:
            self.problems.append(
                origin.problem(
                    "a scenario sent to the server carries its files (content or "
                    "content_base64), it names no files on the server's disk",
                    "path",
                )
            )
            return None
        path = base / Path(str(spec.path))
        try:
            return path.read_bytes()
        except OSError as exc:
            self.problems.append(
                origin.problem(f"cannot read {path}: {exc.strerror or exc}", "path")
            )
            return None

    def _job(self, item: Item[shapes.JobSpec], tuned: dict[str, tuple[str, str]]) -> None:
        spec, origin = item.spec, item.origin
        org = self._org(spec.org, origin)
        if org is None or not self._wanted(org):
            return
        job_id = spec.id or synth.make_id(
            JOB_PREFIX, SCENARIO_ID_DOMAIN, org.name, *origin.path, origin.document.source
        )
        if self.service.store.get(JOB, job_id, None, self.now) is not None:
            self.jobs.append(_Job(item, org, _placeholder(job_id, org), exists=True))
            return
        training = self._job_file(item, org, spec.training_file, "training_file")
        valid = (
            self._job_file(item, org, spec.validation_file, "validation_file")
            if spec.validation_file
            else None
        )
        based = self._base(item, org, spec.model, tuned)
        method = self._method(item)
        if training is None or based is None or method is None:
            return
        base, parent_job_id = based
        if spec.validation_file is not None and valid is None:
            return
        method_type = str(method["type"])
        fine_tuning = self.catalog.fine_tuning(base)
        if fine_tuning is not None:
            unsupported = validation.method_error(base, fine_tuning, method_type)
            if unsupported is not None:
                self.problems.append(origin.problem(unsupported, "method"))
                return
        seed = (
            spec.seed
            if spec.seed is not None
            else synth.draw_seed(self.service.settings.seed, job_id)
        )
        name = spec.fine_tuned_model or synth.fine_tuned_model_name(
            base, org.name, spec.suffix, synth.model_tag(seed, job_id)
        )
        if name in tuned or self.service.store.get(MODEL, name, None, self.now) is not None:
            self.problems.append(
                origin.problem(f"{name} is another job's model", "fine_tuned_model")
            )
            return
        tuned[name] = (base, job_id)
        requested = (spec.hyperparameters or shapes.Hyperparameters()).model_dump()
        if method_type != "supervised" or isinstance(spec.method, dict):
            inner = method.get(method_type) or {}
            requested = {**requested, **(inner.get("hyperparameters") or {})}
        record = JobRecord(
            id=job_id,
            organization_id=org.id,
            model=spec.model if spec.model.startswith(FT_PREFIX) else base,
            base_snapshot=base,
            created_at=spec.created_at or 0,
            training_file=training,
            validation_file=valid,
            suffix=spec.suffix,
            seed=seed,
            integrations=list(spec.integrations or []),
            metadata=spec.metadata,
            method=method,
            requested=lifecycle.RequestedHyperparameters(
                **{n: requested.get(n, lifecycle.AUTO) for n in HYPERPARAMETER_NAMES}
            ),
            fine_tuned_model=name,
            parent_job_id=parent_job_id,
            outcome=self._outcome_of(item, training, valid, base, method_type),
            interventions=tuple(
                Intervention(i.at, i.kind, _error(i.error), i.planned)
                for i in spec.interventions or ()
            ),
            course=course_of(spec.outcome, rule="scenario") if spec.outcome else None,
            project_id=spec.project,
        )
        self.jobs.append(_Job(item, org, record, exists=False))

    def _outcome_of(
        self,
        item: Item[shapes.JobSpec],
        training: str,
        valid: str | None,
        base: str,
        method: str,
    ) -> Outcome | None:
        """What validating the job's files finds (as given, or found now); None for a job
        given with its history and no outcome yet (the service validates it as usual)."""
        spec = item.spec
        if spec.validated is not None:
            return _validated(spec.validated)
        fine_tuning = self.catalog.fine_tuning(base)
        if spec.interventions is not None or fine_tuning is None:
            return None
        staged = _Staged(self.service.blobs, {f.id: f.content for f in self.files if f.content})
        outcome = validate_files(cast("Blobs", staged), training, valid, base, fine_tuning, method)
        if outcome.error is not None and spec.status not in ("failed", "validating_files"):
            self.problems.append(
                item.origin.problem(
                    f"its files fail validation, so it cannot be {spec.status}: "
                    f"{outcome.error.message}",
                    "status",
                )
            )
        return outcome

    def _job_file(
        self, item: Item[shapes.JobSpec], org: Organization, ref: str, param: str
    ) -> str | None:
        """The id of the file a job names: a file of the scenario (by name or id, in the
        job's organization) or a fine-tune File the server has."""
        for file in self.files:
            spec = file.item.spec
            if file.org == org and ref in (spec.name, file.id):
                if spec.purpose != FINE_TUNE_PURPOSE:
                    self.problems.append(
                        item.origin.problem(
                            f"{ref} has purpose {spec.purpose}, not fine-tune", param
                        )
                    )
                    return None
                return file.id
        doc = self.service.store.get(FILE, ref, org.id, self.now)
        if doc is not None and doc.get("purpose") == FINE_TUNE_PURPOSE:
            return ref
        exported = item.spec.validated is not None or item.spec.interventions is not None
        if doc is None and exported and ref.startswith(FILE_PREFIX):
            return ref  # an exported job whose file was deleted since
        self.problems.append(
            item.origin.problem(f"no fine-tune file {ref} in the scenario or on the server", param)
        )
        return None

    def _base(
        self,
        item: Item[shapes.JobSpec],
        org: Organization,
        model: str,
        tuned: dict[str, tuple[str, str]],
    ) -> tuple[str, str | None] | None:
        """The base snapshot a job on `model` trains, and the job whose model it continues
        (a job of the scenario, or a model this organization has)."""
        if model.startswith(FT_PREFIX):
            if model in tuned:
                return tuned[model]
            found = self.service.models.tuned(org, model)
            if found is not None:
                return found.base_snapshot, found.job_id
        else:
            entry = self.catalog.resolve(model)
            if entry is not None and self.catalog.fine_tuning(model) is not None:
                return entry.id, None
        self.problems.append(
            item.origin.problem(f"{model} is not a model this server can fine-tune", "model")
        )
        return None

    def _method(self, item: Item[shapes.JobSpec]) -> dict[str, Any] | None:
        given = item.spec.method
        if isinstance(given, str):
            return {"type": given}
        try:
            return parse(Method, given).model_dump(exclude_none=True)
        except errors.APIError as exc:
            self.problems.append(item.origin.problem(exc.message, "method"))
            return None

    def _chaos(self, item: Item[shapes.ChaosRuleSpec]) -> None:
        fields = item.spec.model_dump(exclude_unset=True)
        org_name = fields.pop("org", None)
        org = self._org(org_name, item.origin) if org_name is not None else None
        if org_name is not None and org is None:
            return
        if self.only_org is not None and (org is None or org.id != self.only_org):
            return
        try:
            spec = ChaosSpec.model_validate(fields)
            Chaos().add(spec)  # the checks a rule gets from POST /mockft/chaos
        except errors.APIError as exc:
            self.problems.append(item.origin.problem(exc.message))
            return
        self.chaos.append((spec, org.id if org else None, item))

    def _permission(self, item: Item[shapes.PermissionSpec]) -> None:
        """A grant of a model of a job of the scenario (made before it is granted) or of a
        model the granting organization has."""
        spec, origin = item.spec, item.origin
        seeded = self._seeded_models()
        found = seeded.get(spec.model)
        if spec.org is not None or found is None:
            org = self._org(spec.org or self._owner_of(spec.model), origin)
        else:
            org = found[0].org
        if org is None or not self._wanted(org):
            return
        if found is not None and found[0].org == org:
            job, steps = found
            status = job.item.spec.status
            if job.item.spec.project in spec.projects:
                self.problems.append(origin.problem(_owning(job.item.spec.project), "projects"))
            elif status != "succeeded":
                self.problems.append(
                    origin.problem(
                        f"its job is {status}: only a succeeded job's models can be granted",
                        "model",
                    )
                )
            elif spec.step is not None and spec.step not in steps:
                self.problems.append(origin.problem(_no_checkpoint(spec.step, steps), "step"))
            else:
                model = spec.model
                if spec.step is not None:
                    model = job.record.context.checkpoint_model(
                        spec.step, final=spec.step == steps[-1]
                    )
                self.permissions.append(_Grant(item, org, model))
            return
        tuned = self.service.models.tuned(org, spec.model)
        if tuned is None:
            self.problems.append(
                origin.problem(
                    f"{spec.model} is not a model of {org.name} (a succeeded job's model or "
                    "checkpoint, of the scenario or the server)",
                    "model",
                )
            )
            return
        if tuned.project in spec.projects:
            self.problems.append(origin.problem(_owning(tuned.project), "projects"))
            return
        model = spec.model
        if spec.step is not None:
            view = self.service.jobs.get(org, tuned.job_id)
            checkpoints = {
                c.step_number: c.fine_tuned_model_checkpoint for c in view.snapshot.checkpoints
            }
            if spec.step not in checkpoints:
                self.problems.append(
                    origin.problem(_no_checkpoint(spec.step, sorted(checkpoints)), "step")
                )
                return
            model = checkpoints[spec.step]
        self.permissions.append(_Grant(item, org, model))

    def _owner_of(self, model: str) -> str | None:
        """The organization of the scenario's jobs (loaded before) that has the model."""
        for job in self.jobs:
            if self.service.models.tuned(job.org, model) is not None:
                return job.org.name
        return None

    def _seeded_models(self) -> dict[str, tuple[_Job, tuple[int, ...]]]:
        """The models the scenario's new jobs make (if they succeed), with each job and its
        checkpoints' steps: its fine-tuned model, and each earlier checkpoint's model."""
        models: dict[str, tuple[_Job, tuple[int, ...]]] = {}
        for job in self.jobs:
            record = job.record
            if job.exists:
                continue
            steps = plan_of(record).checkpoint_steps if record.outcome is not None else ()
            models[record.fine_tuned_model] = (job, steps)
            for step in steps[:-1]:
                models[record.context.checkpoint_model(step, final=False)] = (job, steps)
        return models

    def _outcome(self, item: Item[shapes.OutcomeRule], index: int) -> None:
        label = f"{item.origin.document.source}:{_line(item)}"
        try:
            self.outcomes.append(OutcomeMatcher.compile(item.spec, label))
        except PatternError as exc:
            self.problems.append(item.origin.problem(f"a pattern RE2 refuses: {exc}", "match"))

    def _answer(self, item: Item[shapes.AnswerRule]) -> None:
        try:
            self.answers.append(AnswerMatcher.compile(item.spec))
        except PatternError as exc:
            self.problems.append(item.origin.problem(f"a pattern RE2 refuses: {exc}"))

    # -- writing ----------------------------------------------------------------------------

    def set_clock(self) -> None:
        """A scenario loaded at run time moves a manual clock forward to its start and sets a
        system clock's speed (the mode and a start in the past are the server's)."""
        clock, spec = self.service.clock, self.loaded.clock
        if spec is None or self.at_start or self.only_org is not None:
            return
        if spec.start is not None and clock.mode == "manual" and spec.start > clock.now():
            clock.set(spec.start)
        if spec.speed is not None and clock.mode == "system":
            clock.set_speed(spec.speed)

    def commit(self) -> Summary:
        """Write the prepared state, at the service's instant now."""
        service = self.service
        self.now = service.ctx.now()
        summary = Summary(self.loaded.sources)
        if self.only_org is None:
            service.ctx.catalog = self.catalog
            summary.models = {
                "added": [i.spec.id for i in self.loaded.models_added],
                "removed": [i.spec for i in self.loaded.models_removed],
            }
        if not self.at_start and (self.new_keys or self.new_admin_keys):
            service.scenarios.add_keys(self.new_keys, self.new_admin_keys)
        for item in self.loaded.organizations:  # at start: in the settings
            if not self.at_start and item.spec.wandb_key is not None:
                service.wandb_keys.register(self.orgs[item.spec.name], item.spec.wandb_key)
        summary.organizations = sorted(
            {
                i.spec.name
                for i in self.loaded.organizations
                if self._wanted(self.orgs.get(i.spec.name))
            }
        )
        jobs = {job.record.id: job for job in self.jobs if not job.exists}
        for job in jobs.values():
            job.record = self._placed(job)
        for job in jobs.values():  # a file was there before the first job on it
            for file_id in (job.record.training_file, job.record.validation_file):
                uploaded = job.record.created_at - UPLOAD_LEAD_SECONDS
                self.uploaded[file_id] = min(self.uploaded.get(file_id, self.now), uploaded)
        by_org: dict[str, tuple[Organization, list[JobRecord]]] = {}
        for job in jobs.values():
            by_org.setdefault(job.org.id, (job.org, []))[1].append(job.record)
        for owner, records in by_org.values():
            service.jobs.seed(owner, records)
        for file in self.files:  # in order: a job's result file where it was among them
            made = jobs.get(file.item.spec.result_of or "")
            if made is not None:
                service.jobs.get(made.org, made.record.id)
            elif not file.exists and file.content is not None:
                self._write_file(file)
        for job in jobs.values():
            view = service.jobs.get(job.org, job.record.id)
            self._delete(job)
            summary.jobs.append(
                {
                    "id": job.record.id,
                    "organization": job.org.name,
                    "status": view.snapshot.status,
                    "fine_tuned_model": view.snapshot.fine_tuned_model,
                }
            )
        summary.files = [
            {"id": f.id, "filename": f.item.spec.name, "organization": f.org.name}
            for f in self.files
            if f.content is not None
        ]
        for grant in self.permissions:  # the jobs' models are made: they were observed
            summary.permissions += self._grant(grant)
        for spec, org, _ in self.chaos:
            summary.chaos.append(service.control.chaos.add(spec, org).id)
        service.scenarios.rules.add(self.outcomes, self.answers)
        summary.outcomes, summary.answers = len(self.outcomes), len(self.answers)
        if self.loaded.id_sequence is not None:
            service.store.advance_sequence("ids", self.loaded.id_sequence)
        return summary

    def _write_file(self, file: _File) -> None:
        assert file.content is not None
        blobs = self.service.blobs
        writer = blobs.writer(file.id)
        try:
            writer.write(file.content)
        except BaseException:
            writer.abort()
            raise
        writer.commit()
        spec = file.item.spec
        expiry = None
        if spec.expires_after is not None:
            expiry = ExpiresAfter(anchor="created_at", seconds=spec.expires_after)
        self.service.files.store_file(
            file.org,
            file.id,
            spec.name,
            spec.purpose,
            len(file.content),
            expiry,
            created_at=spec.created_at or self.uploaded.get(file.id, self.now),
        )

    def _grant(self, grant: _Grant) -> list[dict[str, Any]]:
        spec, permissions = grant.item.spec, self.service.permissions
        if spec.id is None:
            made = permissions.create(grant.org, grant.model, list(spec.projects))
        else:  # as exported: one project, its id and time
            (project,) = spec.projects
            at = spec.created_at if spec.created_at is not None else self.now
            made = permissions.create(
                grant.org, grant.model, [project], made=Permission(spec.id, at, project)
            )
        return [
            {
                "id": p.id,
                "model": grant.model,
                "project_id": p.project_id,
                "organization": grant.org.name,
            }
            for p in made
        ]

    def _delete(self, job: _Job) -> None:
        """What was deleted of a job's results since (an exported scenario says so)."""
        service = self.service
        for name in job.item.spec.deleted:
            if service.store.get(MODEL, name, job.org.id, self.now) is not None:
                service.store.delete(MODEL, name)
            elif service.store.get(FILE, name, job.org.id, self.now) is not None:
                service.store.delete(FILE, name)
                service.blobs.delete(name)

    # -- a seeded job's history -------------------------------------------------------------

    def _placed(self, job: _Job) -> JobRecord:
        """The job's record with its history: as given, or placed so that it is in its
        status now (or ended at `finished_at`)."""
        spec, record = job.item.spec, job.record
        if spec.interventions is not None or record.outcome is None:
            return record  # exactly as exported
        course = _status_course(spec)
        if course is not None:
            error = course.validation_error(record.outcome.error)
            record = replace(record, outcome=replace(record.outcome, error=error))
        plan = plan_of(replace(record, created_at=0))
        reference, kinds = _reference(spec, plan, course)
        anchor = spec.finished_at if spec.finished_at is not None else self.now
        created = spec.created_at if spec.created_at is not None else anchor - reference
        record = replace(record, created_at=created)
        plan = plan_of(record)
        placed = list(course.interventions(plan)) if course is not None else []
        placed += [Intervention(created + reference, kind) for kind in kinds]
        record = replace(record, interventions=(*record.interventions, *placed))
        return with_course(record)  # what its `outcome` says happens next


class _Staged:
    """The scenario's files before they are written, over the server's files: what
    validating a seeded job's files reads (`size` and `read` of the blob store)."""

    def __init__(self, blobs: Blobs, staged: dict[str, bytes]) -> None:
        self._blobs = blobs
        self._staged = staged

    def size(self, key: str) -> int | None:
        staged = self._staged.get(key)
        return len(staged) if staged is not None else self._blobs.size(key)

    def read(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        staged = self._staged.get(key)
        if staged is None:
            yield from self._blobs.read(key, chunk_size)
            return
        for start in range(0, len(staged), chunk_size):
            yield staged[start : start + chunk_size]


def _status_course(spec: shapes.JobSpec) -> Course | None:
    """How a failed or cancelled job ended, as a course: where and with what error."""
    if spec.status == "failed":
        return Course(
            end=FAIL, step=spec.at_step or None, error=failure(spec.error or shapes.ErrorSpec())
        )
    if spec.status == "cancelled":
        return Course(end=CANCEL, step=spec.at_step or None)
    return None


def _reference(
    spec: shapes.JobSpec, plan: lifecycle.JobPlan, course: Course | None
) -> tuple[int, tuple[str, ...]]:
    """The instant (after creation) at which the job is as the spec says, and the
    interventions to record at it."""
    status = spec.status
    held = (HOLD,) if spec.held else ()
    steps = plan.total_steps
    if plan.validation_error is not None and status in ("failed", "succeeded", "cancelled"):
        return plan.validated_at - plan.created_at, ()
    if status == "succeeded":
        return plan.finished_at - plan.created_at, ()
    if status == "validating_files":
        return 0, held
    if status == "queued":
        return plan.validated_at - plan.created_at, held
    if status in ("running", "paused"):
        done = spec.at_step if spec.at_step is not None else max(1, steps // 2)
        done = min(done, steps)
        at = plan.step_time(done) if done else plan.started_at
        return at - plan.created_at, (PAUSE,) if status == "paused" else held
    # failed or cancelled: when the course's intervention happens
    if course is not None:
        for item in course.interventions(plan):
            if item.planned is not None:
                return item.planned - plan.created_at, ()
    return plan.validated_at - plan.created_at, ()


def _validated(spec: shapes.ValidatedSpec | None) -> Outcome | None:
    if spec is None:
        return None
    stats = lifecycle.TrainingStats(
        spec.examples, spec.tokens, spec.validation_examples, tuple(spec.warnings)
    )
    return Outcome(stats, _error(spec.error))


def _error(spec: shapes.ErrorSpec | None) -> JobError | None:
    """An error as recorded (export writes them whole)."""
    if spec is None:
        return None
    return JobError(spec.code, spec.message or "", spec.param)


def _owning(project: str | None) -> str:
    return f"{project} is the project the model was trained in: it has the model already"


def _placeholder(job_id: str, org: Organization) -> JobRecord:
    """A job that exists already (loaded before): nothing to write."""
    return JobRecord(
        id=job_id,
        organization_id=org.id,
        model="",
        base_snapshot="",
        created_at=0,
        training_file="",
        validation_file=None,
        suffix=None,
        seed=0,
        integrations=[],
        metadata=None,
        method={"type": "supervised"},
        requested=lifecycle.RequestedHyperparameters(),
        fine_tuned_model="",
    )


def _configured_keys(service: Service) -> dict[str, str]:
    """Key -> its owner as `_owner` writes it, of the keys the server accepts."""
    default = service.keys.default.name
    settings, scenarios = service.settings, service.scenarios
    keys: dict[str, str] = {}
    for admin, entries in (
        (False, (*settings.api_keys, *scenarios.keys)),
        (True, (*settings.admin_keys, *scenarios.admin_keys)),
    ):
        for entry in entries:
            keys[entry.partition("=")[0]] = _owner(entry, admin, default)
    return keys


def _owner(entry: str, admin: bool, default: str) -> str:
    """Whose a key is, in messages: `acme`, `acme/proj_a` (a project key) or `acme (an
    admin key)`."""
    _, org, project = parse_key(entry)
    owner = org or default
    if admin:
        return f"{owner} (an admin key)"
    return f"{owner}/{project}" if project else owner


def declared_keys(
    spec: shapes.OrganizationSpec,
) -> Iterator[tuple[str, bool, tuple[str | int, ...]]]:
    """An organization's keys as configured entries, each with whether it is an admin key
    and where it is in the organization's table."""
    for index, key in enumerate(spec.keys):
        yield f"{key}={spec.name}", False, ("keys", index)
    for p, project in enumerate(spec.projects):
        for index, key in enumerate(project.keys):
            yield f"{key}={spec.name}/{project.id}", False, ("projects", p, "keys", index)
    for index, key in enumerate(spec.admin_keys):
        yield f"{key}={spec.name}", True, ("admin_keys", index)


def _no_checkpoint(step: int, steps: Sequence[int]) -> str:
    listed = ", ".join(map(str, steps)) or "none"
    return f"no checkpoint at step {step} (its checkpoints' steps: {listed})"


def _line(item: Item[Any]) -> str:
    line = line_of(item.origin.document.lines, item.origin.path)
    return str(line) if line is not None else ".".join(map(str, item.origin.path))
