"""A service's state as a scenario (`mockft scenario export`, `GET /mockft/scenario`), so a
state reached by hand can be loaded again: the same files (bytes, ids, times), the same
jobs with their history as recorded (created_at, interventions, what validation found),
the same models, rules, chaos rules and clock, so that the API answers the same.

Jobs are written exactly (`created_at`, `interventions`, `validated`), not by status: the
timeline model then gives every event, checkpoint and metric again. What a job made (its
result file, its models) is made again by the service; what was deleted of it since is
listed in `deleted`.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from mockft.auth import Organization
from mockft.catalog import Catalog, load_catalog
from mockft.config import parse_key
from mockft.course import SUCCEED, Course
from mockft.job_record import JobRecord
from mockft.lifecycle import JobError
from mockft.scenario.model import VERSION
from mockft.scenario.toml import dumps
from mockft.service.files import FILE
from mockft.service.jobs import JOB
from mockft.service.models import MODEL

if TYPE_CHECKING:
    from mockft.service import Service

BATCH_PURPOSE = "batch"


def export(service: Service) -> dict[str, Any]:
    """The whole server's state as a scenario document (the shape of `model.Scenario`)."""
    with service.ctx.instant():
        return _Exporter(service).document()


def export_toml(service: Service) -> str:
    return dumps(export(service))


class _Exporter:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.now = service.ctx.now()
        self.names = _organization_names(service)

    def document(self) -> dict[str, Any]:
        service = self.service
        clock = service.clock
        jobs = self._jobs()  # first: observing a job makes what its success made
        document: dict[str, Any] = {
            "version": VERSION,
            "description": f"Exported by mockft at unix time {self.now}.",
            "seed": service.settings.seed,
            "id_sequence": service.store.sequence("ids"),
            "clock": {
                "mode": clock.mode,
                "speed": clock.speed if clock.mode == "system" else None,
                "start": self.now,
            },
            "organizations": self._organizations(),
            "models": _catalog_changes(service.ctx.catalog, load_catalog()),
            "files": self._files(jobs),
            "jobs": [doc for _, doc in jobs],
            "outcomes": [
                m.rule.model_dump(exclude_none=True, exclude_defaults=True)
                for m in service.scenarios.rules.outcomes
            ],
            "chaos": self._chaos(),
            "permissions": self._permissions(),
            "limits": {
                name: value
                for name, value in service.limits.state().items()
                if name != "object" and value is not None
            },
            "answers": [
                m.rule.model_dump(exclude_none=True, exclude_defaults=True)
                for m in service.scenarios.rules.answers
            ],
        }
        return {k: v for k, v in document.items() if v not in (None, [], {})}

    def _org(self, org_id: str) -> str | None:
        return self.names.get(org_id)

    def _organizations(self) -> list[dict[str, Any]]:
        """Every organization with its keys: user keys, projects with their project keys,
        admin keys, and its W&B key."""
        service = self.service
        default = service.keys.default.name
        keys: dict[str, list[str]] = {}
        projects: dict[str, dict[str, list[str]]] = {}
        admin: dict[str, list[str]] = {}
        for entry in (*service.settings.api_keys, *service.scenarios.keys):
            key, name, project = parse_key(entry)
            name = name or default
            keys.setdefault(name, [])
            if project is None:
                keys[name].append(key)
            else:
                projects.setdefault(name, {}).setdefault(project, []).append(key)
        for entry in (*service.settings.admin_keys, *service.scenarios.admin_keys):
            key, name, _ = parse_key(entry)
            admin.setdefault(name or default, []).append(key)
        wandb = {k.organization.name: k.key for k in service.wandb_keys.listed(None)}
        out = []
        for name in dict.fromkeys([*keys, *admin, *wandb]):
            org: dict[str, Any] = {"name": name, "keys": keys.get(name, [])}
            if name in projects:
                org["projects"] = [{"id": p, "keys": k} for p, k in projects[name].items()]
            if name in admin:
                org["admin_keys"] = admin[name]
            if name in wandb:
                org["wandb_key"] = wandb[name]
            out.append(org)
        return out

    # -- files ---------------------------------------------------------------------------

    def _files(self, jobs: list[tuple[JobRecord, dict[str, Any]]]) -> list[dict[str, Any]]:
        results = {r: record.id for record, _ in jobs for r in record.result_files}
        store = self.service.store
        owners = {
            doc["id"]: name
            for org_id, name in self.names.items()
            for doc in store.scan(FILE, org_id, self.now)
        }
        out = []
        for doc in store.scan(FILE, None, self.now):
            org = owners.get(doc["id"])
            if org is None:
                continue
            entry: dict[str, Any] = {
                "id": doc["id"],
                "name": doc["filename"],
                "org": org,
                "purpose": doc["purpose"],
                "created_at": doc["created_at"],
            }
            job = results.get(doc["id"])
            if job is not None:  # made again by its job, with the job's purpose
                del entry["purpose"]
                entry["result_of"] = job
            else:
                entry.update(self._content(doc["id"]))
            expires = doc.get("expires_at")
            if expires is not None and doc["purpose"] != BATCH_PURPOSE:
                entry["expires_after"] = expires - doc["created_at"]
            out.append(entry)
        return out

    def _content(self, file_id: str) -> dict[str, str]:
        data = b"".join(self.service.blobs.read(file_id))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return {"content_base64": base64.b64encode(data).decode()}
        if "\x00" in text:
            return {"content_base64": base64.b64encode(data).decode()}
        return {"content": text}

    # -- jobs ----------------------------------------------------------------------------

    def _jobs(self) -> list[tuple[JobRecord, dict[str, Any]]]:
        service = self.service
        out = []
        for doc in service.store.scan(JOB, None, self.now):
            org_name = self._org(doc["organization_id"])
            if org_name is None:
                continue
            org = Organization(doc["organization_id"], org_name)
            view = service.jobs.get(org, doc["id"])
            out.append((view.record, self._job(view.record, org_name, view.snapshot.status)))
        return out

    def _job(self, record: JobRecord, org: str, status: str) -> dict[str, Any]:
        outcome = record.outcome
        job: dict[str, Any] = {
            "id": record.id,
            "org": org,
            "project": record.project_id,
            "status": status,
            "model": record.model,
            "training_file": record.training_file,
            "validation_file": record.validation_file,
            "suffix": record.suffix,
            "seed": record.seed,
            "method": record.method,
            "hyperparameters": record.requested_hyperparameters(),
            "metadata": record.metadata,
            "integrations": record.integrations or None,
            "fine_tuned_model": record.fine_tuned_model,
            "created_at": record.created_at,
            "validated": (
                {
                    "examples": outcome.stats.n_examples,
                    "tokens": outcome.stats.billable_tokens,
                    "validation_examples": outcome.stats.n_validation_examples,
                    "warnings": list(outcome.stats.warnings),
                    "error": _error(outcome.error),
                }
                if outcome is not None
                else None
            ),
            "interventions": [
                {
                    "at": i.at,
                    "kind": i.kind,
                    "error": _error(i.error),
                    "planned": i.planned,
                }
                for i in record.interventions
            ],
            "outcome": outcome_of(record.course) if record.course else None,
            "deleted": self._deleted(record),
        }
        return {k: v for k, v in job.items() if v is not None and v != []}

    def _deleted(self, record: JobRecord) -> list[str]:
        """What a success made that is gone: models deleted, the result file deleted."""
        if not record.materialized:
            return []
        store, now = self.service.store, self.now
        gone = [f for f in record.result_files if store.get(FILE, f, None, now) is None]
        made = store.scan(MODEL, record.organization_id, now)
        alive = {m["id"] for m in made}
        org = Organization(record.organization_id, self._org(record.organization_id) or "")
        view = self.service.jobs.get(org, record.id)
        names = [record.fine_tuned_model] + [
            c.fine_tuned_model_checkpoint for c in view.snapshot.checkpoints
        ]
        gone += [name for name in dict.fromkeys(names) if name not in alive]
        return gone

    # -- checkpoint permissions ------------------------------------------------------------

    def _permissions(self) -> list[dict[str, Any]]:
        """Every grant, exactly (its id and time), of a model that is still there."""
        store, permissions = self.service.store, self.service.permissions
        out = []
        for org_id, name in self.names.items():
            for model, perm in permissions.listed(org_id):
                if store.get(MODEL, model, org_id, self.now) is None:
                    continue  # deleted since: the grant reaches nothing
                out.append(
                    {
                        "org": name,
                        "model": model,
                        "projects": [perm.project_id],
                        "id": perm.id,
                        "created_at": perm.created_at,
                    }
                )
        return out

    # -- rules -----------------------------------------------------------------------------

    def _chaos(self) -> list[dict[str, Any]]:
        out = []
        for rule in self.service.control.chaos.rules():
            if rule.exhausted:
                continue
            fields = rule.spec.model_dump(exclude_defaults=True)
            if rule.remaining is not None:
                fields["times"] = rule.remaining
            fields.pop("after", None)
            if rule.spec.after > rule.matched:  # still letting requests through
                fields["after"] = rule.spec.after - rule.matched
            if rule.org is not None:
                name = self._org(rule.org)
                if name is None:
                    continue
                fields["org"] = name
            out.append(fields)
        return out


def outcome_of(course: Course) -> dict[str, Any]:
    """A job's course as the outcome a scenario would give it (what `rules.course_of`
    reads back into the same course)."""
    pace = course.pace
    outcome: dict[str, Any] = {}
    if course.end == SUCCEED:
        succeed = {
            "final_loss": course.targets.final_loss if course.targets else None,
            "final_accuracy": course.targets.final_accuracy if course.targets else None,
            "steps": course.steps,
            "n_epochs": course.n_epochs,
            "batch_size": course.batch_size,
            "learning_rate_multiplier": course.learning_rate_multiplier,
            "duration_scale": pace.duration_scale if pace and pace.duration_scale != 1 else None,
        }
        outcome["succeed"] = {k: v for k, v in succeed.items() if v is not None}
    else:
        point: dict[str, Any] = {"at_step": course.step, "in_state": course.state}
        if course.end == "fail" and course.error is not None:
            point.update(code=course.error.code, message=course.error.message)
            point["param"] = course.error.param
        outcome[course.end] = {k: v for k, v in point.items() if v is not None}
    if pace is not None and (pace.queue_seconds or pace.step_seconds):
        slow = {"queue": pace.queue_seconds, "step": pace.step_seconds}
        outcome["slow"] = {k: list(v) for k, v in slow.items() if v is not None}
    return outcome


def _error(error: JobError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "message": error.message, "param": error.param}


def _organization_names(service: Service) -> dict[str, str]:
    """Organization id -> name, of every organization the server knows by name."""
    default = service.keys.default
    names = {default.id: default.name}
    scenarios = service.scenarios
    for entry in (
        *service.settings.api_keys,
        *scenarios.keys,
        *service.settings.admin_keys,
        *scenarios.admin_keys,
    ):
        _, name, _ = parse_key(entry)
        if name:
            names[Organization.named(name).id] = name
    return names


def _catalog_changes(current: Catalog, shipped: Catalog) -> dict[str, Any] | None:
    removed = [m.id for m in shipped if m.id not in current]
    added = [
        m.model_dump(exclude_none=True)
        for m in current
        if m.id not in shipped or shipped.get(m.id) != m
    ]
    if not removed and not added:
        return None
    return {"remove": removed or None, "add": added or None}
