"""Weights & Biases credentials, by organization: the fine-tuning guide's rule that an
organization registers a W&B API key before any of its jobs may enable the integration.

On the real platform an administrator registers the key in the dashboard; here it is given
at start (`--wandb-key ORG=KEY`, the organization named as in `--api-key KEY=org`) or
through the control API (`POST /mockft/wandb`). mockft never contacts W&B: any non-empty key
is accepted, kept as given, and only ever shown masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from mockft import errors
from mockft.auth import Organization
from mockft.service.context import Context, Part

WANDB_KEY: Final = "wandb_key"  # stored kind; one per organization, its id the org's
OBJECT: Final = "mockft.wandb_key"
CONFIGURED: Final = "configured"  # given at start; cannot be removed at run time
REGISTERED: Final = "registered"  # through the control API


@dataclass(frozen=True)
class WandbKey:
    organization: Organization
    key: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": OBJECT,
            "organization_id": self.organization.id,
            "organization": self.organization.name,
            "api_key": errors.mask_key(self.key),
            "source": self.source,
        }


class WandbKeys(Part):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._configured: dict[str, WandbKey] = {}
        for entry in ctx.settings.wandb_keys:
            name, _, key = entry.partition("=")
            org = Organization.named(name.strip())
            self._configured[org.id] = WandbKey(org, key.strip(), CONFIGURED)

    def get(self, org: Organization) -> WandbKey | None:
        """The organization's key: one registered at run time, else one given at start."""
        doc = self.store.get(WANDB_KEY, org.id, org.id, self.now())
        if doc is not None and doc.get("key"):
            return WandbKey(org, str(doc["key"]), REGISTERED)
        return self._configured.get(org.id)

    def require(self, org: Organization) -> None:
        """The refusal of a job that enables W&B for an organization without a key."""
        if self.get(org) is None:
            raise errors.wandb_not_registered()

    def register(self, org: Organization, key: str) -> WandbKey:
        doc = {"id": org.id, "key": key}
        with self.store.transaction():
            if self.store.get(WANDB_KEY, org.id, org.id, self.now()) is None:
                self.store.insert(WANDB_KEY, org.id, org.id, doc)
            else:
                self.store.update(WANDB_KEY, org.id, doc)
        return WandbKey(org, key, REGISTERED)

    def remove(self, org: Organization) -> bool:
        """Forget a key registered at run time (one given at start stays, and is the
        organization's key again)."""
        doc = self.store.get(WANDB_KEY, org.id, org.id, self.now())
        if doc is None or not doc.get("key"):
            return False
        self.store.update(WANDB_KEY, org.id, {"id": org.id, "key": None})
        return True

    def listed(self, scope: str | None) -> list[WandbKey]:
        """The keys of every organization (`scope` None) or of one."""
        keys = {k.organization.id: k for k in self._configured.values()}
        for doc in self.store.scan(WANDB_KEY, scope, self.now()):
            if doc.get("key"):
                org = self.ctx.keys.organization(str(doc["id"]))
                keys[org.id] = WandbKey(org, str(doc["key"]), REGISTERED)
        return [k for k in keys.values() if scope is None or k.organization.id == scope]
