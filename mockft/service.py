"""The operations. The only place that combines store, blobs, clock and the pure modules;
routes call these and serialise what comes back."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mockft import errors, lifecycle, synth, tokens
from mockft.auth import KeyRing, Organization
from mockft.catalog import Catalog, load_catalog
from mockft.clock import Clock, ManualClock, SystemClock
from mockft.config import Settings
from mockft.multipart import MultipartForm
from mockft.pagination import PageRequest
from mockft.schemas import (
    FILE_PURPOSES,
    CompleteUpload,
    CreateFineTuningJob,
    CreateUpload,
    ExpiresAfter,
    FileObject,
    ModelObject,
    UploadObject,
    UploadPart,
)
from mockft.store import Blobs, BlobWriter, Store, open_stores

FILE_PREFIX = "file-"
UPLOAD_PREFIX = "upload_"
PART_PREFIX = "part_"

FILE = "file"
UPLOAD = "upload"
PART = "upload_part"
JOB = "job"
MODEL = "model"

JOB_PREFIX = "ftjob-"
RESULT_FILENAME = "step_metrics.csv"
RESULT_PURPOSE = "fine-tune-results"
FT_PREFIX = "ft:"
MIN_EXAMPLES = 10

FINE_TUNE_EXTENSION = ".jsonl"
BATCH_DEFAULT_EXPIRY_SECONDS = 30 * 24 * 3600
UPLOAD_TTL_SECONDS = 3600
MAX_UPLOAD_BYTES = 8 * 1024**3
MAX_PART_BYTES = 64 * 1024**2

META_MANUAL_NOW = "clock.manual.now"
META_SYSTEM_ANCHOR = "clock.system.anchor"


@dataclass(frozen=True)
class FileContent:
    filename: str
    size: int
    chunks: Iterator[bytes]


class Service:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        blobs: Blobs,
        clock: Clock,
        catalog: Catalog | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.clock = clock
        self.catalog = catalog or load_catalog()
        self.keys = KeyRing(settings.api_keys, settings.org_name)

    @classmethod
    def open(cls, settings: Settings) -> Service:
        store, blobs = open_stores(None if settings.memory else settings.data_dir)
        return cls(settings, store, blobs, _restore_clock(settings, store))

    def close(self) -> None:
        self.save_clock()
        self.store.close()

    # -- basics --------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock.now())

    def new_id(self, prefix: str) -> str:
        return synth.make_id(prefix, self.settings.seed, self.store.next_sequence("ids"))

    def authenticate(self, authorization: str | None) -> Organization:
        return self.keys.authenticate(authorization)

    # -- files ---------------------------------------------------------------------------

    def new_file_id(self) -> str:
        return self.new_id(FILE_PREFIX)

    def open_blob(self, key: str) -> BlobWriter:
        return self.blobs.writer(key)

    def file_too_large(self) -> errors.APIError:
        limit = self.settings.max_file_bytes
        return errors.APIError(
            413, f"Maximum content size limit ({limit}) exceeded ({limit + 1} bytes read)"
        )

    def create_file(self, org: Organization, file_id: str, form: MultipartForm) -> FileObject:
        """Commit the streamed bytes of `form` as a File, or abort them on any error."""
        writer = form.file.writer if form.file else None
        try:
            purpose, expires_after = _file_fields(form)
            if form.file is None:
                raise errors.missing_param("file")
            filename = form.file.filename
            if purpose == "fine-tune" and not filename.endswith(FINE_TUNE_EXTENSION):
                raise errors.invalid(
                    "Invalid file format for Fine-Tuning API. Must be .jsonl", "file"
                )
            form.file.writer.commit()
            writer = None
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        try:
            if purpose == "fine-tune":
                self._check_json_lines(file_id)
        except BaseException:
            self.blobs.delete(file_id)
            raise
        return self._store_file(
            org, file_id, filename, purpose, form.file.writer.size, expires_after
        )

    def _store_file(
        self,
        org: Organization,
        file_id: str,
        filename: str,
        purpose: str,
        size: int,
        expires_after: ExpiresAfter | None,
    ) -> FileObject:
        self.purge_expired()
        now = self.now()
        expires_at: int | None = None
        if expires_after is not None:
            expires_at = now + expires_after.seconds
        elif purpose == "batch":
            expires_at = now + BATCH_DEFAULT_EXPIRY_SECONDS
        obj = FileObject(
            id=file_id,
            purpose=purpose,
            filename=filename,
            bytes=size,
            created_at=now,
            expires_at=expires_at,
        )
        self.store.insert(FILE, file_id, org.id, obj.api(), tag=purpose, gone_at=expires_at)
        return obj

    def store_generated_file(
        self, org: Organization, filename: str, purpose: str, content: bytes
    ) -> FileObject:
        """A file the service makes itself (a job's result file)."""
        file_id = self.new_file_id()
        writer = self.blobs.writer(file_id)
        writer.write(content)
        writer.commit()
        return self._store_file(org, file_id, filename, purpose, len(content), None)

    def _check_json_lines(self, file_id: str) -> None:
        for number, line in enumerate(_lines(self.blobs.read(file_id)), start=1):
            if not line.strip():
                continue
            try:
                ok = isinstance(json.loads(line), dict)
            except ValueError:
                ok = False
            if not ok:
                raise errors.invalid(
                    "Invalid file format for Fine-Tuning API. Must be .jsonl "
                    f"(line {number} is not a JSON object)",
                    "file",
                )

    def get_file(self, org: Organization, file_id: str) -> FileObject:
        doc = self.store.get(FILE, file_id, org.id, self.now())
        if doc is None:
            raise errors.file_not_found(file_id)
        return FileObject.model_validate(doc)

    def list_files(
        self, org: Organization, page: PageRequest, purpose: str | None
    ) -> list[FileObject]:
        docs = self.store.page(FILE, org.id, page, self.now(), tag=purpose)
        return [FileObject.model_validate(d) for d in docs]

    def delete_file(self, org: Organization, file_id: str) -> dict[str, Any]:
        self.get_file(org, file_id)
        self.store.delete(FILE, file_id)
        self.blobs.delete(file_id)
        return {"object": "file", "id": file_id, "deleted": True}

    def file_content(self, org: Organization, file_id: str) -> FileContent:
        obj = self.get_file(org, file_id)
        return FileContent(obj.filename, obj.bytes, self.blobs.read(file_id))

    def purge_expired(self) -> None:
        now = self.now()
        for file_id in self.store.gone(FILE, now):
            self.store.delete(FILE, file_id)
            self.blobs.delete(file_id)

    # -- uploads -------------------------------------------------------------------------

    def create_upload(self, org: Organization, request: CreateUpload) -> UploadObject:
        if request.bytes > MAX_UPLOAD_BYTES:
            raise errors.above_maximum("bytes", MAX_UPLOAD_BYTES, request.bytes)
        if request.purpose == "fine-tune" and not request.filename.endswith(FINE_TUNE_EXTENSION):
            raise errors.invalid(
                "Invalid file format for Fine-Tuning API. Must be .jsonl", "filename"
            )
        now = self.now()
        upload = UploadObject(
            id=self.new_id(UPLOAD_PREFIX),
            purpose=request.purpose,
            filename=request.filename,
            bytes=request.bytes,
            created_at=now,
            expires_at=now + UPLOAD_TTL_SECONDS,
        )
        doc = upload.model_dump()
        doc["expires_after"] = request.expires_after.model_dump() if request.expires_after else None
        self.store.insert(UPLOAD, upload.id, org.id, doc)
        return upload

    def _upload_doc(self, org: Organization, upload_id: str) -> dict[str, Any]:
        doc = self.store.get(UPLOAD, upload_id, org.id, self.now())
        if doc is None:
            raise errors.upload_not_found(upload_id)
        if doc["status"] == "pending" and self.now() >= doc["expires_at"]:
            doc["status"] = "expired"
        return doc

    @staticmethod
    def _upload(doc: dict[str, Any]) -> UploadObject:
        return UploadObject.model_validate({k: v for k, v in doc.items() if k != "expires_after"})

    def _pending_upload(self, org: Organization, upload_id: str) -> dict[str, Any]:
        doc = self._upload_doc(org, upload_id)
        if doc["status"] != "pending":
            raise errors.invalid(
                f"Cannot modify upload {upload_id} because it is {doc['status']}.", "upload_id"
            )
        return doc

    def check_upload_pending(self, org: Organization, upload_id: str) -> str:
        """Before streaming a part: the upload exists and takes parts. Returns a part id."""
        self._pending_upload(org, upload_id)
        return self.new_id(PART_PREFIX)

    def part_too_large(self) -> errors.APIError:
        return errors.invalid(
            f"Part exceeds the maximum part size of {MAX_PART_BYTES} bytes (64 MB).", "data"
        )

    def add_upload_part(
        self, org: Organization, upload_id: str, part_id: str, form: MultipartForm
    ) -> UploadPart:
        writer = form.file.writer if form.file else None
        try:
            self._pending_upload(org, upload_id)
            extra = sorted(form.fields)
            if extra:
                raise errors.unknown_param(extra[0])
            if form.file is None:
                raise errors.missing_param("data")
            form.file.writer.commit()
            writer = None
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        part = UploadPart(id=part_id, created_at=self.now(), upload_id=upload_id)
        doc = part.model_dump()
        doc["size"] = form.file.writer.size
        self.store.insert(PART, part_id, org.id, doc, tag=upload_id)
        return part

    def complete_upload(
        self, org: Organization, upload_id: str, request: CompleteUpload
    ) -> UploadObject:
        doc = self._pending_upload(org, upload_id)
        parts = {p["id"]: p for p in self.store.scan(PART, org.id, self.now(), tag=upload_id)}
        for part_id in request.part_ids:
            if part_id not in parts:
                raise errors.invalid(
                    f"Part {part_id} does not belong to upload {upload_id}.", "part_ids"
                )
        if len(set(request.part_ids)) != len(request.part_ids):
            raise errors.invalid("part_ids must not contain duplicates.", "part_ids")
        total = sum(parts[p]["size"] for p in request.part_ids)
        if total != doc["bytes"]:
            raise errors.invalid(
                f"The number of bytes uploaded upon completion ({total}) does not match the "
                f"number of bytes specified when the upload was created ({doc['bytes']}).",
                "part_ids",
            )
        file_id = self.new_file_id()
        digest = hashlib.md5(usedforsecurity=False)
        writer = self.blobs.writer(file_id)
        try:
            for part_id in request.part_ids:
                for chunk in self.blobs.read(part_id):
                    digest.update(chunk)
                    writer.write(chunk)
            if request.md5 is not None and request.md5.lower() != digest.hexdigest():
                raise errors.invalid(
                    "The md5 checksum of the uploaded parts does not match the one provided.",
                    "md5",
                )
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        try:
            if doc["purpose"] == "fine-tune":
                self._check_json_lines(file_id)
        except BaseException:
            self.blobs.delete(file_id)
            raise
        expires_after = doc.get("expires_after")
        file = self._store_file(
            org,
            file_id,
            doc["filename"],
            doc["purpose"],
            total,
            ExpiresAfter.model_validate(expires_after) if expires_after else None,
        )
        doc.update(status="completed", file=file.model_dump())
        self.store.update(UPLOAD, upload_id, doc)
        self._drop_parts(org, upload_id)
        return self._upload(doc)

    def cancel_upload(self, org: Organization, upload_id: str) -> UploadObject:
        doc = self._pending_upload(org, upload_id)
        doc["status"] = "cancelled"
        self.store.update(UPLOAD, upload_id, doc)
        self._drop_parts(org, upload_id)
        return self._upload(doc)

    def _drop_parts(self, org: Organization, upload_id: str) -> None:
        for part in self.store.scan(PART, org.id, self.now(), tag=upload_id):
            self.store.delete(PART, part["id"])
            self.blobs.delete(part["id"])

    # -- fine-tuning jobs ----------------------------------------------------------------

    def create_job(self, org: Organization, request: CreateFineTuningJob) -> dict[str, Any]:
        base = self._fine_tunable_base(org, request.model)
        method = request.method.type if request.method else "supervised"
        if request.method is not None and request.hyperparameters is not None:
            raise errors.invalid(
                "Specify hyperparameters either in 'method' or at the top level, not both.",
                "hyperparameters",
            )
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
        stats, failure = self._training_stats(training, validation)
        requested = request.method.hyperparameters() if request.method else request.hyperparameters
        hyper = (requested.model_dump() if requested else {}) | {}
        model_name = synth.fine_tuned_model_name(
            base["snapshot"], org.name, request.suffix, synth.model_tag(seed, job_id)
        )
        doc: dict[str, Any] = {
            "object": "fine_tuning.job",
            "id": job_id,
            "model": base["snapshot"] if not request.model.startswith(FT_PREFIX) else request.model,
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
            },
            "validation_error": failure,
            "fine_tuned_model_name": model_name,
            "base_snapshot": base["snapshot"],
            "interventions": [],
            "result_files": [],
            "materialized": False,
        }
        self.store.insert(JOB, job_id, org.id, doc)
        return self._job_view(org, doc)

    def _fine_tunable_base(self, org: Organization, model: str) -> dict[str, str]:
        if model.startswith(FT_PREFIX):
            tuned = self.store.get(MODEL, model, org.id, self.now())
            if tuned is not None and "base_snapshot" in tuned:
                return {"snapshot": tuned["base_snapshot"]}
        else:
            entry = self.catalog.resolve(model)
            if entry is not None and self.catalog.fine_tuning(model) is not None:
                return {"snapshot": entry.id}
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
        self, training: dict[str, Any], validation: dict[str, Any] | None
    ) -> tuple[lifecycle.TrainingStats, dict[str, Any] | None]:
        """Example and token counts; a problem the real service finds while validating
        becomes the job's error at the end of `validating_files`."""
        n_train, train_tokens, problem = self._count(training["id"], "training_file")
        n_valid = 0
        if validation is not None and problem is None:
            n_valid, _, problem = self._count(validation["id"], "validation_file")
        if problem is None and n_train < MIN_EXAMPLES:
            problem = {
                "code": "invalid_training_file",
                "message": f"Training file {training['id']} has {n_train} example(s), but must "
                f"have at least {MIN_EXAMPLES} examples",
                "param": "training_file",
            }
        stats = lifecycle.TrainingStats(n_train, train_tokens, n_valid)
        return stats, problem

    def _count(self, file_id: str, param: str) -> tuple[int, int, dict[str, Any] | None]:
        examples = total = 0
        for number, line in enumerate(_lines(self.blobs.read(file_id)), start=1):
            if not line.strip():
                continue
            try:
                example = json.loads(line)
            except ValueError:
                example = None
            if not isinstance(example, dict):
                return (
                    examples,
                    total,
                    {
                        "code": f"invalid_{param}",
                        "message": f"Invalid file format. Line {number} of {file_id} is not a JSON "
                        "object.",
                        "param": param,
                    },
                )
            examples += 1
            total += tokens.count_example(example)
        return examples, total, None

    def _plan(self, doc: dict[str, Any]) -> lifecycle.JobPlan:
        stats = lifecycle.TrainingStats(**doc["stats"])
        requested = lifecycle.RequestedHyperparameters(**doc["requested_hyperparameters"])
        failure = doc["validation_error"]
        return lifecycle.plan_job(
            created_at=doc["created_at"],
            stats=stats,
            hyperparameters=lifecycle.resolve_hyperparameters(requested, stats.n_examples),
            seed=doc["seed"],
            validation_error=lifecycle.JobError(**failure) if failure else None,
        )

    @staticmethod
    def _interventions(doc: dict[str, Any]) -> list[lifecycle.Intervention]:
        return [
            lifecycle.Intervention(
                at=i["at"],
                kind=i["kind"],
                error=lifecycle.JobError(**i["error"]) if i.get("error") else None,
            )
            for i in doc["interventions"]
        ]

    def _observe(
        self, org: Organization, doc: dict[str, Any]
    ) -> tuple[lifecycle.JobPlan, lifecycle.JobSnapshot]:
        """What is true of the job now; the first observation of success materialises
        its result file and models (idempotently)."""
        plan = self._plan(doc)
        ctx = lifecycle.JobContext(
            job_id=doc["id"],
            training_file=doc["training_file"],
            validation_file=doc["validation_file"],
            fine_tuned_model=doc["fine_tuned_model_name"],
        )
        snap = lifecycle.snapshot(plan, self._interventions(doc), self.now(), ctx)
        if snap.status == lifecycle.SUCCEEDED and not doc["materialized"]:
            self._materialise(org, doc, plan, snap)
        return plan, snap

    def _materialise(
        self,
        org: Organization,
        doc: dict[str, Any],
        plan: lifecycle.JobPlan,
        snap: lifecycle.JobSnapshot,
    ) -> None:
        csv = synth.result_csv(lifecycle.metrics_through(plan, snap.steps_done))
        result = self.store_generated_file(
            org, RESULT_FILENAME, RESULT_PURPOSE, base64.b64encode(csv)
        )
        created = snap.finished_at or self.now()
        names = [doc["fine_tuned_model_name"]] + [
            c.fine_tuned_model_checkpoint for c in snap.checkpoints
        ]
        for name in names:
            if self.store.get(MODEL, name, None, self.now()) is None:
                model = {
                    "id": name,
                    "object": "model",
                    "created": created,
                    "owned_by": org.id,
                    "base_snapshot": doc["base_snapshot"],
                    "job_id": doc["id"],
                }
                self.store.insert(MODEL, name, org.id, model)
        doc["result_files"] = [result.id]
        doc["materialized"] = True
        self.store.update(JOB, doc["id"], doc)

    def _job_doc(self, org: Organization, job_id: str) -> dict[str, Any]:
        doc = self.store.get(JOB, job_id, org.id, self.now())
        if doc is None:
            raise errors.job_not_found(job_id)
        return doc

    def _job_view(self, org: Organization, doc: dict[str, Any]) -> dict[str, Any]:
        plan, snap = self._observe(org, doc)
        started = (
            snap.status not in (lifecycle.VALIDATING_FILES, lifecycle.QUEUED)
            and (doc["validation_error"] is None)
            and snap.steps_done + int(snap.status == lifecycle.RUNNING) > 0
        )
        hyper: dict[str, Any] = dict(doc["requested_hyperparameters"])
        if started:
            hyper = {
                "n_epochs": plan.n_epochs,
                "batch_size": plan.batch_size,
                "learning_rate_multiplier": plan.learning_rate_multiplier,
            }
        method = dict(doc["method"] or {"type": doc["method_type"]})
        kind = method["type"]
        method[kind] = {
            **dict(method.get(kind) or {}),
            "hyperparameters": {
                **dict((method.get(kind) or {}).get("hyperparameters") or {}),
                **hyper,
            },
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
            "method": method,
        }

    def get_job(self, org: Organization, job_id: str) -> dict[str, Any]:
        return self._job_view(org, self._job_doc(org, job_id))

    def list_jobs(
        self, org: Organization, page: PageRequest, metadata: dict[str, str] | None
    ) -> list[dict[str, Any]]:
        docs = self.store.page(JOB, org.id, page, self.now(), match=metadata)
        return [self._job_view(org, d) for d in docs]

    def intervene(
        self,
        org: Organization,
        job_id: str,
        kind: str,
        error: lifecycle.JobError | None = None,
    ) -> dict[str, Any]:
        doc = self._job_doc(org, job_id)
        _, snap = self._observe(org, doc)
        if not ALLOWED_IN[kind](snap.status):
            raise errors.invalid(
                JOB_STATE_MESSAGES[kind].format(job_id=job_id, status=snap.status), "job_id"
            )
        entry: dict[str, Any] = {"at": self.now(), "kind": kind}
        if error is not None:
            entry["error"] = {"code": error.code, "message": error.message, "param": error.param}
        doc["interventions"].append(entry)
        self.store.update(JOB, job_id, doc)
        return self._job_view(org, doc)

    def job_events(self, org: Organization, job_id: str) -> list[lifecycle.EventSpec]:
        """Newest first."""
        _, snap = self._observe(org, self._job_doc(org, job_id))
        return list(reversed(snap.events))

    def job_checkpoints(self, org: Organization, job_id: str) -> list[lifecycle.CheckpointSpec]:
        """Newest first."""
        _, snap = self._observe(org, self._job_doc(org, job_id))
        return list(reversed(snap.checkpoints))

    def find_job(self, job_id: str) -> tuple[Organization, dict[str, Any]]:
        """Control API: a job of any organization."""
        doc = self.store.get(JOB, job_id, None, self.now())
        if doc is None:
            raise errors.job_not_found(job_id)
        org = self.keys.organization(doc["organization_id"])
        return org, doc

    # -- models --------------------------------------------------------------------------

    def list_models(self, org: Organization) -> list[ModelObject]:
        base = [ModelObject.model_validate(m.to_api()) for m in self.catalog.all()]
        tuned = [_model(d) for d in self.store.scan(MODEL, org.id, self.now())]
        return base + tuned

    def get_model(self, org: Organization, model_id: str) -> ModelObject:
        entry = self.catalog.get(model_id)
        if entry is not None:
            return ModelObject.model_validate(entry.to_api())
        tuned = self.store.get(MODEL, model_id, org.id, self.now())
        if tuned is None:
            raise errors.model_not_found(model_id)
        return _model(tuned)

    def delete_model(self, org: Organization, model_id: str) -> dict[str, Any]:
        if self.catalog.get(model_id) is not None:
            raise errors.APIError(
                403,
                f"You have insufficient permissions to delete the model '{model_id}'.",
                code="insufficient_permissions",
            )
        if self.store.get(MODEL, model_id, org.id, self.now()) is None:
            raise errors.model_not_found(model_id)
        self.store.delete(MODEL, model_id)
        return {"id": model_id, "object": "model", "deleted": True}

    # -- control -------------------------------------------------------------------------

    def reset(self) -> None:
        self.store.clear()
        self.blobs.clear()
        self.save_clock()

    def advance_clock(self, seconds: float) -> float:
        if not isinstance(self.clock, ManualClock):
            raise errors.invalid(
                "The clock can only be advanced in manual mode (start with --clock manual).",
                "seconds",
            )
        if seconds < 0:
            raise errors.below_minimum("seconds", 0, seconds, "number")
        now = self.clock.advance(seconds)
        self.save_clock()
        return now

    def set_clock(self, now: float) -> float:
        if not isinstance(self.clock, ManualClock):
            raise errors.invalid("The clock can only be set in manual mode.", "now")
        if now < self.clock.now():
            raise errors.below_minimum("now", self.clock.now(), now, "number")
        self.clock.set(now)
        self.save_clock()
        return now

    def set_speed(self, speed: float) -> float:
        if not isinstance(self.clock, SystemClock):
            raise errors.invalid("The speed can only be set on the system clock.", "speed")
        if speed <= 0:
            raise errors.below_minimum("speed", 0, speed, "number")
        self.clock.set_speed(speed)
        self.save_clock()
        return speed

    def clock_state(self) -> dict[str, Any]:
        return {"now": self.clock.now(), "mode": self.clock.mode, "speed": self.clock.speed}

    def save_clock(self) -> None:
        if isinstance(self.clock, ManualClock):
            self.store.set_meta(META_MANUAL_NOW, repr(self.clock.now()))


def _not_terminal(status: str) -> bool:
    return not lifecycle.is_terminal(status)


ALLOWED_IN: dict[str, Callable[[str], bool]] = {
    lifecycle.CANCEL: lifecycle.can_cancel,
    lifecycle.PAUSE: lifecycle.can_pause,
    lifecycle.RESUME: lifecycle.can_resume,
    lifecycle.FAIL: _not_terminal,
    lifecycle.COMPLETE: _not_terminal,
}
JOB_STATE_MESSAGES = {
    lifecycle.CANCEL: "Job {job_id} cannot be cancelled because it is {status}.",
    lifecycle.PAUSE: "Job {job_id} cannot be paused because it is {status}; only running "
    "jobs can be paused.",
    lifecycle.RESUME: "Job {job_id} cannot be resumed because it is {status}; only paused "
    "jobs can be resumed.",
    lifecycle.FAIL: "Job {job_id} cannot be failed because it is already {status}.",
    lifecycle.COMPLETE: "Job {job_id} cannot be completed because it is already {status}.",
}


def _model(doc: dict[str, Any]) -> ModelObject:
    return ModelObject(id=doc["id"], created=doc["created"], owned_by=doc["owned_by"])


def _restore_clock(settings: Settings, store: Store) -> Clock:
    """Virtual time continues across restarts: the manual clock from its last value,
    the system clock from the anchor recorded when the data dir was first served."""
    if settings.clock == "manual":
        saved = store.get_meta(META_MANUAL_NOW)
        clock = ManualClock(settings.start_time if saved is None else float(saved))
        store.set_meta(META_MANUAL_NOW, repr(clock.now()))
        return clock
    import time

    wall = time.time()
    saved = store.get_meta(META_SYSTEM_ANCHOR)
    if saved is None:
        store.set_meta(META_SYSTEM_ANCHOR, json.dumps([wall, wall]))
        return SystemClock(settings.speed)
    anchor_virtual, anchor_wall = json.loads(saved)
    virtual_now = anchor_virtual + (wall - anchor_wall) * settings.speed
    return SystemClock(settings.speed, anchor=max(virtual_now, anchor_virtual))


def _file_fields(form: MultipartForm) -> tuple[str, ExpiresAfter | None]:
    fields = dict(form.fields)
    purpose = fields.pop("purpose", None)
    if purpose is None:
        raise errors.missing_param("purpose")
    if purpose not in FILE_PURPOSES:
        raise errors.invalid(f"'{purpose}' is not one of {FILE_PURPOSES} - 'purpose'", "purpose")
    anchor = fields.pop("expires_after[anchor]", None)
    seconds = fields.pop("expires_after[seconds]", None)
    if fields:
        raise errors.unknown_param(sorted(fields)[0])
    if anchor is None and seconds is None:
        return purpose, None
    if anchor is None:
        raise errors.missing_param("expires_after.anchor")
    if seconds is None:
        raise errors.missing_param("expires_after.seconds")
    if anchor != "created_at":
        raise errors.invalid_value("expires_after.anchor", anchor, ["created_at"])
    try:
        value = int(seconds)
    except ValueError:
        raise errors.invalid_type("expires_after.seconds", "an integer", "a string") from None
    if value < 3600:
        raise errors.below_minimum("expires_after.seconds", 3600, value)
    if value > 2_592_000:
        raise errors.above_maximum("expires_after.seconds", 2_592_000, value)
    return purpose, ExpiresAfter(anchor="created_at", seconds=value)


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        yield pending
