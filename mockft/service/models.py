"""Models: the base catalog plus the fine-tuned models an organization owns."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockft import errors
from mockft.auth import Organization
from mockft.catalog import CatalogModel
from mockft.service.context import Context, Part

if TYPE_CHECKING:
    from mockft.service.permissions import Permissions

MODEL = "model"
log = logging.getLogger("mockft")


@dataclass(frozen=True)
class ModelInfo:
    """A model as listed (see `wire.models`): a base model or a fine-tuned one."""

    id: str
    created: int
    owned_by: str


@dataclass(frozen=True)
class TunedModel:
    """A fine-tuned model: the base snapshot it was trained from, the job that made it, and
    the project that job ran in (None: its organization's default project)."""

    id: str
    base_snapshot: str
    job_id: str
    project: str | None = None


class Models(Part):
    def __init__(self, ctx: Context, permissions: Permissions | None = None) -> None:
        super().__init__(ctx)
        self.permissions = permissions

    def all(self, org: Organization, project: str | None = None) -> list[ModelInfo]:
        """The base models, the organization's fine-tuned models, and those another
        organization granted the project (checkpoint permissions)."""
        base = [_base(m) for m in self.catalog.all()]
        owned = [d for d in self.store.scan(MODEL, org.id, self.now()) if readable(d)]
        tuned = [_tuned(d) for d in owned]
        if self.permissions is not None and project is not None:
            mine = {d["id"] for d in owned}
            granted = self.permissions.granted_models(project)
            tuned += [_tuned(d) for d in granted if d["id"] not in mine]
        return base + tuned

    def get(self, org: Organization, model_id: str, project: str | None = None) -> ModelInfo:
        entry = self.catalog.get(model_id)
        if entry is not None:
            return _base(entry)
        tuned = readable(self.store.get(MODEL, model_id, org.id, self.now()))
        if tuned is None and self.permissions is not None:
            tuned = self.permissions.granted(project, model_id)
        if tuned is None:
            raise errors.model_not_found(model_id)
        return _tuned(tuned)

    def delete(self, org: Organization, model_id: str) -> str:
        """Deletes a fine-tuned model of this organization; returns its id."""
        if self.catalog.get(model_id) is not None:
            raise errors.APIError(
                403,
                f"You have insufficient permissions to delete the model '{model_id}'.",
                code="insufficient_permissions",
            )
        if self.store.get(MODEL, model_id, org.id, self.now()) is None:
            raise errors.model_not_found(model_id)
        self.store.delete(MODEL, model_id)
        return model_id

    def register(
        self,
        org: Organization,
        name: str,
        created: int,
        base: str,
        job_id: str,
        project: str | None = None,
    ) -> None:
        """Idempotent: a fine-tuned (or checkpoint) model a succeeded job produced, in the
        job's project (None: the organization's default one)."""
        if self.store.get(MODEL, name, None, self.now()) is None:
            doc = {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": org.id,
                "base_snapshot": base,
                "job_id": job_id,
                **({"project_id": project} if project is not None else {}),
            }
            self.store.insert(MODEL, name, org.id, doc)

    def tuned(self, org: Organization, name: str) -> TunedModel | None:
        """A fine-tuned (or checkpoint) model this organization owns and has not deleted."""
        doc = readable(self.store.get(MODEL, name, org.id, self.now()))
        if doc is None:
            return None
        return TunedModel(
            name, str(doc["base_snapshot"]), str(doc["job_id"]), doc.get("project_id")
        )

    def tuned_base(self, org: Organization, name: str) -> str | None:
        """The base snapshot of a fine-tuned model this organization owns."""
        model = self.tuned(org, name)
        return None if model is None else model.base_snapshot


def readable(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored model's document, or None (logged) for a row damaged or edited by hand: a
    model no one can see or call, as a damaged job or file is skipped, rather than a 500
    wherever it is read. A damaged model can still be deleted."""
    if doc is None:
        return None
    texts = [doc.get(k) for k in ("id", "owned_by", "base_snapshot", "job_id")]
    if all(type(v) is str for v in texts) and type(doc.get("created")) is int:
        if type(doc.get("project_id", "")) is str:
            return doc
    log.warning("skipping an unreadable stored model: %.200r", doc)
    return None


def _base(entry: CatalogModel) -> ModelInfo:
    return ModelInfo(id=entry.id, created=entry.created, owned_by=entry.owned_by)


def _tuned(doc: dict[str, Any]) -> ModelInfo:
    return ModelInfo(id=doc["id"], created=doc["created"], owned_by=doc["owned_by"])
