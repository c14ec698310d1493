"""Fine-tuning jobs: stored inputs and interventions; everything else is derived from
the pure timeline at the operation's instant.

A job is created at once, in `validating_files`; its files are validated off the event
loop (`Work`), and the outcome is recorded by the first operation that needs it (one that
reads the job at or after `lifecycle.outcome_instant`). The result file of a success is
written off the loop the same way. On the event loop such an operation raises `Pending`
until the work is done (the route awaits it); elsewhere it waits.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from mockft import errors, lifecycle, queueing, synth
from mockft import validation as validation_rules
from mockft.auth import Organization
from mockft.catalog import FineTuningSpec
from mockft.course import Course, JobFacts
from mockft.job_record import (
    HYPERPARAMETER_NAMES,
    REINFORCEMENT,
    SUPERVISED,
    JobRecord,
    JobView,
    Outcome,
)
from mockft.pagination import PageRequest, slice_after
from mockft.paging import keeping
from mockft.schemas import CreateFineTuningJob, Integration
from mockft.service import graders, learning, wandb_runs
from mockft.service.context import Context, Part, lasts_until, one_instant
from mockft.service.files import FILE, FILE_PREFIX, Files
from mockft.service.limits import Limits
from mockft.service.models import Models
from mockft.service.wandb_keys import WandbKeys
from mockft.service.work import Work
from mockft.store import Blobs
from mockft.validation import messages as validation_messages

log = logging.getLogger(__name__)
JOB = "job"
JOB_PREFIX = "ftjob-"
RESULT_FILENAME = "step_metrics.csv"
RESULT_PURPOSE = "fine-tune-results"
PROMPT_COMPLETION = "prompt_completion"  # the catalog's format of babbage-002, davinci-002
FT_PREFIX = synth.FINE_TUNED_PREFIX
FINE_TUNE_PURPOSE = "fine-tune"
# Timers (the store's) of when each job next needs looking at for its end: the instant it
# ends, as planned (`END_TIMER`), or the instant its plan can first be known (`CHECK_TIMER`).
# What reacts to jobs ending (webhooks) reads these instead of every job.
END_TIMER = "job.end"
CHECK_TIMER = "job.check"
# A scenario's outcome rules: the course of a new job, or None (it runs as the timing
# model plans it).
CourseFor = Callable[[JobFacts], "Course | None"]


class Jobs(Part):
    def __init__(
        self,
        ctx: Context,
        files: Files,
        models: Models,
        work: Work | None = None,
        *,
        limits: Limits | None = None,
        wandb_keys: WandbKeys | None = None,
        course_for: CourseFor | None = None,
    ) -> None:
        super().__init__(ctx)
        self.files = files
        self.models = models
        self.work = work or Work()
        self.limits = limits or Limits(ctx, JOB)
        self.wandb_keys = wandb_keys or WandbKeys(ctx)
        self.listeners: list[Callable[[], None]] = []
        """Called after a job is written (what waits for jobs' ends looks again)."""
        self.course_for = course_for

    # -- the API

    @one_instant
    def create(
        self, org: Organization, request: CreateFineTuningJob, project: str | None = None
    ) -> JobView:
        """The checks the real API answers with a 400 (in its order: the files before the
        model), then the job, answered at once in `validating_files`. `project`: the one the
        caller acts in (its models' owning project)."""
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
        base, parent_job_id = self._fine_tunable_base(org, request.model)
        unsupported = validation_rules.method_error(base, self._spec(base), method)
        if unsupported is not None:
            raise errors.invalid(unsupported, "model", "model_not_available")
        if any(i.type == wandb_runs.WANDB for i in request.integrations or []):
            self.wandb_keys.require(org)
        self.limits.check_daily(org, base)

        job_id = self.new_id(JOB_PREFIX)
        seed = (
            request.seed
            if request.seed is not None
            else synth.draw_seed(self.settings.seed, job_id)
        )
        requested = request.method.hyperparameters() if request.method else request.hyperparameters
        hyper = requested.model_dump() if requested else {}
        course = self._course(org, request, base, method, training)
        record = JobRecord(
            id=job_id,
            organization_id=org.id,
            model=request.model if request.model.startswith(FT_PREFIX) else base,
            base_snapshot=base,
            created_at=self.now(),
            training_file=training,
            validation_file=validation,
            suffix=request.suffix,
            seed=seed,
            integrations=[_echoed(i, job_id) for i in request.integrations or []],
            metadata=request.metadata,
            method=(
                request.method.model_dump(exclude_none=True) if request.method else {"type": method}
            ),
            requested=lifecycle.RequestedHyperparameters(
                **{name: hyper.get(name, lifecycle.AUTO) for name in HYPERPARAMETER_NAMES}
            ),
            fine_tuned_model=synth.fine_tuned_model_name(
                base, org.name, request.suffix, synth.model_tag(seed, job_id)
            ),
            parent_job_id=parent_job_id,
            interventions=course.at_creation(self.now()) if course else (),
            course=course,
            project_id=project,
        )
        self._save(record, new=True)
        self._queue_changed(org)
        self.work.start(_validation_key(job_id), self._validation(record))
        return self._view(_timeline_of(record), record)

    @one_instant
    def get(self, org: Organization, job_id: str) -> JobView:
        return JobView(*self._observe(org, self._stored(org, job_id)))

    @one_instant
    def page(
        self, org: Organization, page: PageRequest, metadata: dict[str, str] | None
    ) -> list[JobView]:
        """Up to `limit + 1` jobs, newest first, for the list envelope."""
        # Re-encoding a listed document costs less than decoding it into a record, and finds
        # the decoding (and the timeline) of an unchanged job in the cache.
        readable, jobs = keeping(lambda doc: _readable(orjson.dumps(doc)))
        self.store.page(JOB, org.id, page, self.now(), match=metadata, readable=readable)
        return [JobView(*self._observe(org, job)) for job in jobs]

    @one_instant
    def events(self, org: Organization, job_id: str, page: PageRequest) -> list[lifecycle.Event]:
        """Up to `limit + 1` events, newest first, after the page's cursor."""
        _, snap = self._observe(org, self._stored(org, job_id))
        return snap.events.newest_first(page.after, page.limit + 1)

    @one_instant
    def checkpoints(
        self, org: Organization, job_id: str, page: PageRequest
    ) -> list[lifecycle.Checkpoint]:
        """Up to `limit + 1` checkpoints, newest first, after the page's cursor."""
        _, snap = self._observe(org, self._stored(org, job_id))
        return slice_after(snap.checkpoints_newest_first, page, lambda c: c.id)

    @one_instant
    def intervene(
        self,
        org: Organization,
        job_id: str,
        kind: str,
        error: lifecycle.JobError | None = None,
        when: FailurePoint | None = None,
    ) -> JobView:
        """Cancel, pause or resume (the API), or fail, complete, hold or release (the
        control API). A failure with `when` happens at that point of the plan instead of
        now."""
        record, snap = self._observe(org, self._stored(org, job_id))
        held = sum(HOLD_BALANCE.get(i.kind, 0) for i in record.interventions) > 0
        allowed = ALLOWED_IN[kind](snap.status) and (held if kind == lifecycle.RELEASE else True)
        if kind == lifecycle.HOLD and held:
            allowed = False
        if not allowed:
            raise errors.invalid(
                JOB_STATE_MESSAGES[kind].format(job_id=job_id, status=snap.status), "job_id"
            )
        if when is not None or kind == lifecycle.COMPLETE:
            record = self._settled(org, record)  # the plan places it, or runs it to its end
        planned = when.instant(_timeline_of(record).require_plan()) if when else None
        entry = lifecycle.Intervention(self.now(), kind, error, planned)
        changed = replace(record, interventions=(*record.interventions, entry))
        try:
            snap = _timeline_of(changed, self._queue(org, record)).at(self.now())
        except lifecycle.OutcomeNeeded:
            record = self._settled(org, record)
            changed = replace(record, interventions=(*record.interventions, entry))
            snap = _timeline_of(changed, self._queue(org, record)).at(self.now())
        # What may wait (validation, a result file) is done before anything is written, so
        # a request that awaits it and runs again finds the job as it was.
        if snap.status == lifecycle.SUCCEEDED and not changed.materialized:
            changed = self._materialise(org, changed, snap, update=changed)
        else:
            self._save(changed)
        self._queue_changed(org)  # the job's end moved: the jobs queued after it too
        return JobView(changed, snap)

    # -- for the control API and the pytest plugin

    def find(self, job_id: str) -> tuple[Organization, JobRecord]:
        """A job of any organization."""
        doc = self.store.get(JOB, job_id, None, self.now())
        if doc is None:
            raise errors.job_not_found(job_id)
        org = self.ctx.keys.organization(doc["organization_id"])
        return org, JobRecord.from_doc(doc)

    @one_instant
    def expected_end(self, org: Organization, job_id: str) -> int | None:
        """When the job will end by itself (None: it has ended, or is held or paused)."""
        _, snap = self._observe(org, self._stored(org, job_id))
        return snap.expected_end

    def close(self) -> None:
        self.work.close()

    def clear(self) -> None:
        """Forget work in flight (the store was reset)."""
        self.work.clear()

    # -- creating

    def _course(
        self,
        org: Organization,
        request: CreateFineTuningJob,
        base: str,
        method: str,
        training_file: str,
    ) -> Course | None:
        """What the scenario's outcome rules decide for the new job."""
        if self.course_for is None:
            return None
        training = self.store.get(FILE, training_file, org.id, self.now()) or {}
        facts = JobFacts(
            organization=org.name,
            model=request.model,
            base_snapshot=base,
            method=method,
            suffix=request.suffix,
            metadata=request.metadata,
            training_filename=str(training.get("filename", "")),
        )
        return self.course_for(facts)

    def _fine_tunable_base(self, org: Organization, model: str) -> tuple[str, str | None]:
        """The base snapshot a job on `model` trains, and the job whose model it continues:
        an alias resolves to its snapshot; a fine-tuned (or checkpoint) model this
        organization owns and has not deleted, to the snapshot it was trained from
        (continued fine-tuning: the new model is named after that snapshot too)."""
        if model.startswith(FT_PREFIX):
            tuned = self.models.tuned(org, model)
            if tuned is not None:
                return tuned.base_snapshot, tuned.job_id
        else:
            entry = self.catalog.resolve(model)
            if entry is not None and self.catalog.fine_tuning(model) is not None:
                return entry.id, None
        raise errors.invalid(
            f"Model {errors.excerpt(model, errors.MODEL_NAME_CHARS)} is not available for "
            "fine-tuning or does not exist.",
            "model",
            "model_not_available",
        )

    def _spec(self, snapshot: str) -> FineTuningSpec:
        spec = self.catalog.fine_tuning(snapshot)
        if spec is None:  # a model that is tunable was resolved before this call
            raise errors.server_error()
        return spec

    def _job_file(self, org: Organization, file_id: str, param: str) -> str:
        doc = self.store.get(FILE, file_id, org.id, self.now())
        if doc is None:
            raise errors.invalid(f"invalid {param}: {file_id}", param)
        if doc["purpose"] != FINE_TUNE_PURPOSE:
            raise errors.invalid(
                f"invalid {param}: {file_id}. The file has purpose '{doc['purpose']}'; "
                "fine-tuning requires a file with purpose 'fine-tune'.",
                param,
            )
        return file_id

    def _validation(self, record: JobRecord) -> Callable[[], Outcome]:
        """The validation of the job's files, to run off the event loop."""
        return functools.partial(
            validate_files,
            self.blobs,
            record.training_file,
            record.validation_file,
            record.base_snapshot,
            self._spec(record.base_snapshot),
            record.method_type,
        )

    # -- reading

    def _stored(self, org: Organization, job_id: str) -> _Job:
        """The stored job, decoded once per version of its stored text."""
        text = self.store.get_encoded(JOB, job_id, org.id, self.now())
        job = _readable(text) if text is not None else None
        if job is None:
            raise errors.job_not_found(job_id)
        return job

    def _view(self, timeline: _JobTimeline, record: JobRecord) -> JobView:
        return JobView(record, timeline.at(self.now()))

    def _observe(self, org: Organization, job: _Job) -> tuple[JobRecord, lifecycle.JobSnapshot]:
        """What is true of the job now. What it needs first is done here: recording the
        outcome of its validation, and on the first observation of success its result file
        and models (idempotently); the answer is the updated job."""
        now, record = self.now(), job.record
        try:
            snap = self._timeline(org, record, job).at(now)
        except lifecycle.OutcomeNeeded:
            record = self._settled(org, record)
            snap = self._timeline(org, record).at(now)
        if snap.status == lifecycle.SUCCEEDED and not record.materialized:
            record = self._materialise(org, record, snap)
        lasts_until(snap.until)
        return record, snap

    def _timeline(
        self, org: Organization, record: JobRecord, job: _Job | None = None
    ) -> _JobTimeline:
        """The job's timeline, with its wait for a slot where a concurrency limit makes it
        wait (`job`: the stored job, whose own timeline serves when it does not)."""
        queue = self._queue(org, record)
        if not queue and job is not None:
            return job.timeline
        return _timeline_of(record, queue)

    def _queue(self, org: Organization, record: JobRecord) -> tuple[lifecycle.Intervention, ...]:
        """The interventions of the job's wait for a slot (none without a limit, or before
        its files are validated: until then nothing it shows depends on the queue)."""
        if record.outcome is None or not self.limits.limited:
            return ()
        base = record.base_snapshot
        wait = self.limits.wait(
            org,
            record,
            group=lambda: self._group(org, base),
            settle=lambda other: self._settled(org, other),
            plan_of=_plan_of,
        )
        return queueing.queue_interventions(wait)

    def _group(self, org: Organization, base: str) -> list[JobRecord]:
        """The organization's stored jobs on a base model, in creation order."""
        docs = self.store.scan(JOB, org.id, self.now())
        jobs = (_readable(orjson.dumps(d)) for d in docs if d.get("base_snapshot") == base)
        return [job.record for job in jobs if job is not None]

    def _settled(self, org: Organization, record: JobRecord) -> JobRecord:
        """The record with the outcome of its files' validation (waited for if need be)."""
        if record.outcome is not None:
            return record
        current = self._current(org, record.id)  # `record` may be an older reading
        if current.outcome is not None:
            return current
        key = _validation_key(record.id)
        outcome = self.work.outcome(key, self._validation(record))
        current = self._current(org, record.id)
        if current.outcome is None:
            current = with_course(replace(current, outcome=outcome))
            self._save(current)
            self._queue_changed(org)  # the job can now join its model's queue
        self.work.forget(key)
        return current

    def _current(self, org: Organization, job_id: str) -> JobRecord:
        doc = self.store.get(JOB, job_id, org.id, self.now())
        if doc is None:
            raise errors.job_not_found(job_id)
        return JobRecord.from_doc(doc)

    def _materialise(
        self,
        org: Organization,
        record: JobRecord,
        snap: lifecycle.JobSnapshot,
        *,
        update: JobRecord | None = None,
    ) -> JobRecord:
        """The result file (written off the loop) and the models of a success, and the job
        marked as having them: the stored job, or `update` (written in the same
        transaction)."""
        result_id = synth.make_id(FILE_PREFIX, record.id, "results")
        if self.blobs.size(result_id) is None or self.blobs.size(record.id) is None:
            key = f"results:{record.id}"
            plan = _timeline_of(record).require_plan()
            spec = self.catalog.fine_tuning(record.base_snapshot)
            encoded = spec is None or spec.format != PROMPT_COMPLETION
            make = functools.partial(
                make_results, self.ctx, record, result_id, plan, snap.steps_done, encoded
            )
            self.work.outcome(key, make)
            self.work.forget(key)
        size = self.blobs.size(result_id) or 0
        created = snap.finished_at or self.now()
        with self.store.transaction():  # the File, the models and the flag, or none of them
            stored = self._current(org, record.id)
            if stored.materialized:
                return stored
            self.files.store_file(
                org, result_id, RESULT_FILENAME, RESULT_PURPOSE, size, None, created_at=created
            )
            names = [c.fine_tuned_model_checkpoint for c in snap.checkpoints]
            for name in dict.fromkeys([record.fine_tuned_model, *names]):
                self.models.register(
                    org, name, created, record.base_snapshot, record.id, record.project_id
                )
            done = replace(update or stored, result_files=(result_id,), materialized=True)
            self._save(done)
        return done

    # -- writing

    def _save(self, record: JobRecord, *, new: bool = False) -> None:
        """Store the job, and when it next needs looking at for its end, together."""
        end = self.ending(record)
        with self.store.transaction():
            if new:
                self.store.insert(JOB, record.id, record.organization_id, record.to_doc())
            else:
                self.store.update(JOB, record.id, record.to_doc())
            self.schedule(record, end)
        for listener in self.listeners:
            listener()

    def seed(self, org: Organization, records: Sequence[JobRecord]) -> None:
        """Store jobs a scenario made, as if they had been created and run: each with the
        timer of its end where that is still to come (a job that ended before the scenario
        loaded announces nothing), and the organization's queues recomputed."""
        now = self.now()
        with self.store.transaction():
            for record in records:
                self.store.insert(JOB, record.id, record.organization_id, record.to_doc())
                end = self.ending(record)
                if end is None or end.at > now:
                    self.schedule(record, end)
        self._queue_changed(org)
        for listener in self.listeners:
            listener()

    def schedule(self, record: JobRecord, end: lifecycle.Ending | None) -> None:
        """Set the job's timer: the instant it ends, or when to look again."""
        known = end is not None and end.status is not None
        for name in (END_TIMER, CHECK_TIMER):
            if end is not None and (name == END_TIMER) == known:
                self.store.set_timer(name, record.id, record.organization_id, end.at)
            else:
                self.store.clear_timer(name, record.id)

    @staticmethod
    def ending(record: JobRecord) -> lifecycle.Ending | None:
        """How and when the job ends by itself, as it stands (see `lifecycle.ending`), were
        it never to wait for a slot: the earliest it can end, as waiting only delays."""
        return lifecycle.ending(_timeline_of(record).plan, record.interventions, record.context)

    def expected(self, org: Organization, record: JobRecord) -> lifecycle.Ending | None:
        """How and when the job ends, its wait for a slot included (as the queue stands)."""
        interventions = (*record.interventions, *self._queue(org, record))
        return lifecycle.ending(_timeline_of(record).plan, interventions, record.context)

    def limits_changed(self) -> None:
        """The limits changed (`POST /mockft/limits`): every waiting job may end otherwise."""
        if self.limits.limited:
            self.store.pull_timers((END_TIMER, CHECK_TIMER), None, self.now())
        for listener in self.listeners:
            listener()

    def _queue_changed(self, org: Organization) -> None:
        """A job of the organization was created or changed: its queues are recomputed, and
        under a concurrency limit every end timer of the organization is brought forward to
        now, so that what watches the ends (webhooks) looks at the waiting jobs again (a
        wait can end sooner, or end at last, when another job changes)."""
        self.limits.changed(org.id)
        if self.limits.limited:
            self.store.pull_timers((END_TIMER, CHECK_TIMER), org.id, self.now())


# -- off the event loop ------------------------------------------------------------------


def validate_files(
    blobs: Blobs,
    training_file: str,
    validation_file: str | None,
    snapshot: str,
    spec: FineTuningSpec,
    method: str,
) -> Outcome:
    """Example and token counts from `validation.validate_file`, the one judge of training
    data: a problem found in a file becomes the job's error at the end of
    `validating_files`, and the files' warnings become warn-level events there."""

    def gone(param: str, file_id: str) -> Outcome:
        code = validation_messages.ERROR_CODES[param]
        message = f"The job failed because the file {file_id} is no longer available."
        return Outcome(lifecycle.TrainingStats(0, 0), lifecycle.JobError(code, message, param))

    for param, file_id in (("training_file", training_file), ("validation_file", validation_file)):
        if file_id is not None and blobs.size(file_id) is None:  # deleted before it was read
            return gone(param, file_id)

    def check(file_id: str, purpose: str) -> validation_rules.ValidationReport:
        return validation_rules.validate_file(
            blobs.read(file_id),
            model=snapshot,
            model_spec=spec,
            method=method,
            purpose=purpose,
            source=file_id,
        )

    try:  # a file deleted between the look above and its reading is gone as well
        train = check(training_file, validation_rules.TRAINING_FILE)
    except FileNotFoundError:
        return gone("training_file", training_file)
    problem = train.job_error()
    warnings = list(train.warnings)
    n_valid = 0
    if validation_file is not None and problem is None:
        try:
            checked = check(validation_file, validation_rules.VALIDATION_FILE)
        except FileNotFoundError:
            return gone("validation_file", validation_file)
        n_valid, problem = checked.n_examples, checked.job_error()
        warnings.extend(checked.warnings)
    stats = lifecycle.TrainingStats(
        train.n_examples, train.billable_tokens, n_valid, tuple(warnings)
    )
    return Outcome(stats, lifecycle.JobError(**problem) if problem else None)


def make_results(
    ctx: Context,
    record: JobRecord,
    result_id: str,
    plan: lifecycle.JobPlan,
    steps: int,
    encoded: bool = True,
) -> None:
    """What a success leaves, made off the event loop: its result file, and what its models
    learned (fixed now, whatever later happens to the training file)."""
    if ctx.blobs.size(result_id) is None:
        write_results(ctx.blobs, result_id, plan, steps, encoded=encoded)
    learning.learn(ctx, record.id, record.training_file, parent=record.parent_job_id)
    if ctx.settings.wandb_dir is not None:
        wandb_runs.write_run(ctx.settings.wandb_dir, record, plan, steps)


def write_results(
    blobs: Blobs, key: str, plan: lifecycle.JobPlan, steps: int, *, encoded: bool = True
) -> None:
    """The result file of a job that ran `steps` steps, streamed to the blob `key`: base64
    for a chat model's job, plain CSV for a prompt/completion model's (`encoded=False`; the
    cookbook's classification notebook reads babbage-002's with `pd.read_csv`)."""
    writer = blobs.writer(key)
    rows = lifecycle.metrics_through(plan, steps)
    try:
        for chunk in synth.result_file_chunks(rows, encoded=encoded):
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    writer.commit()


def plan_of(record: JobRecord) -> lifecycle.JobPlan:
    """The plan of a job whose validation outcome is recorded (`OutcomeNeeded` if not)."""
    return _timeline_of(record).require_plan()


def _validation_key(job_id: str) -> str:
    return f"validate:{job_id}"


def with_course(record: JobRecord) -> JobRecord:
    """A job whose validation outcome was just recorded, with its course in the plan's
    terms: a failure in validation as what validation found, the rest as interventions
    set up at their points of the plan. (Also for jobs a scenario seeds.)"""
    course, outcome = record.course, record.outcome
    if course is None or outcome is None:
        return record
    error = course.validation_error(outcome.error)
    if error is not outcome.error:
        record = replace(record, outcome=replace(outcome, error=error))
    planned = course.interventions(_timeline_of(record).require_plan())
    return replace(record, interventions=(*record.interventions, *planned))


# -- timelines: a job's plan and its latest snapshot, shared by every reader ----------------

# A job's stored text decodes to the same record every time, and a record's timeline (its
# plan and interventions) gives the same snapshot for every instant until the next one at
# which something is planned: both are memoised, bounded by entries, and a timeline keeps
# only its latest snapshot (polling a job once a second for hours costs one entry).
DECODED_CACHE_SIZE = 4096
TIMELINE_CACHE_SIZE = 4096


class _Job:
    """A job's record, and its timeline once asked for."""

    __slots__ = ("_timeline", "record")

    def __init__(self, record: JobRecord) -> None:
        self.record = record
        self._timeline: _JobTimeline | None = None

    @property
    def timeline(self) -> _JobTimeline:
        if self._timeline is None:
            self._timeline = _timeline_of(self.record)
        return self._timeline


def _readable(text: str | bytes) -> _Job | None:
    """The stored job and its timeline, or None where the stored record cannot be read (a
    row damaged or edited by hand: a field missing or of the wrong type). Such a job is
    skipped (and logged) as the store skips a body that is not JSON: one bad row must not
    make every job list a 500."""
    try:
        job = _decoded(text)
        job.timeline  # noqa: B018 (decoding the course is where a bad field shows)
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError):
        log.warning("skipping an unreadable stored job: %.200r", text)
        return None
    return job


@functools.lru_cache(maxsize=DECODED_CACHE_SIZE)
def _decoded(text: str | bytes) -> _Job:
    return _Job(JobRecord.from_doc(orjson.loads(text)))


@dataclass(frozen=True)
class _TimelineKey:
    """Everything a job's snapshots are a function of."""

    context: lifecycle.JobContext
    outcome: Outcome | None
    requested: lifecycle.RequestedHyperparameters
    seed: int
    base_snapshot: str
    graded: bool
    interventions: tuple[lifecycle.Intervention, ...]
    course: Course | None = None


class _JobTimeline:
    def __init__(self, key: _TimelineKey) -> None:
        self.key = key
        self.plan: lifecycle.JobPlan | None = None
        if key.outcome is not None:
            stats, course = key.outcome.stats, key.course
            resolve = course.hyperparameters if course else lifecycle.resolve_hyperparameters
            self.plan = lifecycle.plan_job(
                created_at=key.context.created_at,
                stats=stats,
                hyperparameters=resolve(key.requested, stats.n_examples, key.base_snapshot),
                seed=key.seed,
                validation_error=key.outcome.error,
                graded=key.graded,
                pace=course.pace if course else None,
                targets=course.targets if course else None,
            )
        self._latest: tuple[int, lifecycle.JobSnapshot] | None = None
        self._lock = threading.Lock()

    def require_plan(self) -> lifecycle.JobPlan:
        if self.plan is None:
            raise lifecycle.OutcomeNeeded
        return self.plan

    def at(self, now: int) -> lifecycle.JobSnapshot:
        latest = self._latest
        if latest is not None and latest[0] <= now < latest[1].until:
            return latest[1]
        snap = lifecycle.snapshot(self.plan, self.key.interventions, now, self.key.context)
        with self._lock:
            if self._latest is None or self._latest[0] < now:
                self._latest = (now, snap)
        return snap


def _timeline_of(record: JobRecord, queue: tuple[lifecycle.Intervention, ...] = ()) -> _JobTimeline:
    """The job's timeline; `queue`: its wait for a slot, if a concurrency limit makes it wait
    (interventions never stored: see `mockft.queueing`)."""
    return _timeline(
        _TimelineKey(
            record.context,
            record.outcome,
            record.requested,
            record.seed,
            record.base_snapshot,
            record.method_type == REINFORCEMENT,
            (*record.interventions, *queue),
            record.course,
        )
    )


def _plan_of(record: JobRecord) -> lifecycle.JobPlan:
    return _timeline_of(record).require_plan()


def _echoed(integration: Integration, job_id: str) -> dict[str, Any]:
    """An integration as the job shows it: the W&B settings with `entity` (null unless
    given), `name` (likewise) and the run's id, the job's (printed jobs of 2025-04 and
    2025-06; the API reference's example). `tags` only when given: the description types
    them as an array, never null."""
    wandb = integration.wandb
    settings: dict[str, Any] = {
        "project": wandb.project,
        "entity": wandb.entity,
        "name": wandb.name,
    }
    if wandb.tags is not None:
        settings["tags"] = list(wandb.tags)
    settings["run_id"] = job_id
    return {"type": integration.type, "wandb": settings}


@functools.lru_cache(maxsize=TIMELINE_CACHE_SIZE)
def _timeline(key: _TimelineKey) -> _JobTimeline:
    return _JobTimeline(key)


# -- interventions -----------------------------------------------------------------------


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
            return plan.step_time(self.step)
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
