"""Models: the base catalog plus the fine-tuned models an organization owns."""

from __future__ import annotations

from typing import Any

from mockft import errors
from mockft.auth import Organization
from mockft.schemas import ModelObject
from mockft.service.context import Part

MODEL = "model"


class Models(Part):
    def all(self, org: Organization) -> list[ModelObject]:
        base = [ModelObject.model_validate(m.to_api()) for m in self.catalog.all()]
        tuned = [_model(d) for d in self.store.scan(MODEL, org.id, self.now())]
        return base + tuned

    def get(self, org: Organization, model_id: str) -> ModelObject:
        entry = self.catalog.get(model_id)
        if entry is not None:
            return ModelObject.model_validate(entry.to_api())
        tuned = self.store.get(MODEL, model_id, org.id, self.now())
        if tuned is None:
            raise errors.model_not_found(model_id)
        return _model(tuned)

    def delete(self, org: Organization, model_id: str) -> dict[str, Any]:
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

    def register(self, org: Organization, name: str, created: int, base: str, job_id: str) -> None:
        """Idempotent: a fine-tuned (or checkpoint) model a succeeded job produced."""
        if self.store.get(MODEL, name, None, self.now()) is None:
            doc = {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": org.id,
                "base_snapshot": base,
                "job_id": job_id,
            }
            self.store.insert(MODEL, name, org.id, doc)

    def tuned_base(self, org: Organization, name: str) -> str | None:
        """The base snapshot of a fine-tuned model this organization owns."""
        doc = self.store.get(MODEL, name, org.id, self.now())
        return None if doc is None else str(doc["base_snapshot"])


def _model(doc: dict[str, Any]) -> ModelObject:
    return ModelObject(id=doc["id"], created=doc["created"], owned_by=doc["owned_by"])
