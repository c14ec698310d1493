"""Deployments: on Azure a model is called through a deployment, a name made in Azure's
control plane that points at a model. mockft keeps them in the store, per organization (an
Azure resource), so they survive restarts; `PUT/GET/DELETE /mockft/azure/deployments/{name}`
stands in for the control plane.

With `--azure-auto-deploy`, a name that is itself a model the organization may call (a base
model, or one of its fine-tuned or checkpoint models) is a deployment of that model without
being made. Any other name answers Azure's `DeploymentNotFound`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from mockft import errors
from mockft.auth import Organization
from mockft.azure import errors as azure_errors
from mockft.schemas import Request
from mockft.service.context import Context, Part
from mockft.service.models import Models

DEPLOYMENT = "azure_deployment"
DEPLOYMENT_OBJECT = "azure.deployment"
ID_SEQUENCE = "azure_deployments"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# How Azure names the operation of each model-call endpoint in its refusals.
OPERATIONS = {"chat": "chatCompletion", "completions": "completion"}
NAME_RULE = "1 to 64 letters, digits, '.', '_', ':' or '-', starting with a letter or a digit"


class DeploymentRequest(Request):
    model: Annotated[str, Field(min_length=1)]


@dataclass(frozen=True)
class Deployment:
    name: str
    model: str
    created_at: int

    def api(self) -> dict[str, Any]:
        return {
            "object": DEPLOYMENT_OBJECT,
            "id": self.name,
            "model": self.model,
            "created_at": self.created_at,
        }


class Deployments(Part):
    def __init__(self, ctx: Context, models: Models) -> None:
        super().__init__(ctx)
        self.models = models

    def put(self, org: Organization, name: str, model: str) -> tuple[Deployment, bool]:
        """Make the deployment or point it at another model; True if it was made."""
        if not NAME_PATTERN.fullmatch(name):
            raise errors.invalid(f"Invalid deployment name '{name}': {NAME_RULE}.", "name")
        self.models.get(org, model)  # the model must exist for this organization
        found = self._stored(org, name)
        if found is not None:
            key, doc = found
            doc["model"] = model
            self.store.update(DEPLOYMENT, key, doc)
            return _deployment(doc), False
        key = f"deployment-{self.store.next_sequence(ID_SEQUENCE)}"
        doc = {"key": key, "name": name, "model": model, "created_at": self.now()}
        self.store.insert(DEPLOYMENT, key, org.id, doc, tag=name)
        return _deployment(doc), True

    def get(self, org: Organization, name: str) -> Deployment:
        found = self._stored(org, name)
        if found is None:
            raise deployment_missing(name)
        return _deployment(found[1])

    def delete(self, org: Organization, name: str) -> dict[str, Any]:
        found = self._stored(org, name)
        if found is None:
            raise deployment_missing(name)
        self.store.delete(DEPLOYMENT, found[0])
        return {"object": DEPLOYMENT_OBJECT, "id": name, "deleted": True}

    def all(self, org: Organization) -> list[Deployment]:
        return [_deployment(d) for d in self.store.scan(DEPLOYMENT, org.id, self.now())]

    def model_for(self, org: Organization, name: str) -> str:
        """The model a call through deployment `name` reaches, or Azure's 404."""
        found = self._stored(org, name)
        if found is not None:
            return str(found[1]["model"])
        if self.settings.azure_auto_deploy and self._callable(org, name):
            return name
        raise azure_errors.deployment_not_found()

    def check_operation(self, org: Organization, model: str, endpoint: str) -> None:
        """Azure's 400 `OperationNotSupported` when `model` is not served by `endpoint`
        (`chat` or `completions`); a fine-tuned model is served where its base is. A model
        the catalog does not know is left to the endpoint (its own 404)."""
        entry = self.catalog.resolve(model)
        if entry is None:
            base = self.models.tuned_base(org, model)
            entry = None if base is None else self.catalog.resolve(base)
        if entry is not None and entry.endpoint != endpoint:
            raise azure_errors.operation_not_supported(OPERATIONS[endpoint], model)

    def _stored(self, org: Organization, name: str) -> tuple[str, dict[str, Any]] | None:
        docs = self.store.scan(DEPLOYMENT, org.id, self.now(), tag=name)
        if not docs:
            return None
        doc = docs[-1]
        return str(doc["key"]), doc

    def _callable(self, org: Organization, model: str) -> bool:
        try:
            self.models.get(org, model)
        except errors.APIError:
            return False
        return True


def deployment_missing(name: str) -> errors.APIError:
    return errors.APIError(
        404,
        f"No deployment named '{name}'.",
        param="name",
        code=azure_errors.DEPLOYMENT_NOT_FOUND_CODE,
    )


def _deployment(doc: dict[str, Any]) -> Deployment:
    return Deployment(name=doc["name"], model=doc["model"], created_at=doc["created_at"])
