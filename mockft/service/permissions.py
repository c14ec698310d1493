"""Checkpoint permissions: an organization's admin grants projects (its own, or another
organization's) the use of a fine-tuned model or checkpoint model it owns.

A permission is stored twice, in one transaction: as the permission (listed per checkpoint,
owned by the granting organization) and as a grant keyed by (project, model), so that a
call naming the model finds out in one look-up whether the caller's project may use it.
"""

from __future__ import annotations

from typing import Any

from mockft import errors
from mockft.auth import Organization
from mockft.pagination import PageRequest, slice_after
from mockft.service.context import Part, one_instant
from mockft.service.models import MODEL, readable
from mockft.wire.permissions import Permission, permission_id

PERMISSION = "checkpoint_permission"
GRANT = "checkpoint_grant"
PERMISSION_PREFIX = "cp_"
GRANT_SEPARATOR = "\n"  # neither a model name nor a project id has a line break


class Permissions(Part):
    @one_instant
    def create(
        self,
        org: Organization,
        checkpoint: str,
        project_ids: list[str],
        *,
        made: Permission | None = None,
    ) -> list[Permission]:
        """One permission per project, in the order given; a project that already holds
        one for this checkpoint gets it back rather than a second. `made`: the permission
        of the one project as it was, id and time (a scenario's export)."""
        owner = self._owned(org, checkpoint).get("project_id")
        if owner is not None and owner in project_ids:
            raise errors.owning_project(owner)
        created: list[Permission] = []
        with self.store.transaction():
            for project in dict.fromkeys(project_ids):
                grant = self.store.get(GRANT, _grant_key(project, checkpoint), None, self.now())
                if grant is not None:
                    doc = self.store.get(PERMISSION, grant["permission_id"], None, self.now())
                    if doc is not None:
                        created.append(_permission(doc))
                        continue
                perm = made or Permission(self.new_id(PERMISSION_PREFIX), self.now(), project)
                self._insert(org, checkpoint, perm)
                created.append(perm)
        return created

    def _insert(self, org: Organization, checkpoint: str, perm: Permission) -> None:
        body = {
            "id": perm.id,
            "created_at": perm.created_at,
            "project_id": perm.project_id,
            "checkpoint": checkpoint,
        }
        self.store.insert(PERMISSION, perm.id, org.id, body, tag=checkpoint)
        grant_body = {"permission_id": perm.id, "model": checkpoint, "project": perm.project_id}
        key = _grant_key(perm.project_id, checkpoint)
        self.store.put(GRANT, key, org.id, grant_body, tag=perm.project_id)

    def listed(self, org_id: str) -> list[tuple[str, Permission]]:
        """Every permission an organization granted, as (model, permission), in the order
        they were made (what a scenario's export writes)."""
        docs = self.store.scan(PERMISSION, org_id, self.now())
        return [(d["checkpoint"], _permission(d)) for d in docs]

    @one_instant
    def page(
        self,
        org: Organization,
        checkpoint: str,
        page: PageRequest,
        project_id: str | None = None,
    ) -> list[Permission]:
        """Up to `limit + 1` permissions of the checkpoint in the page's order, after its
        cursor (a checkpoint has a handful: they are read whole, then sliced)."""
        self._owned(org, checkpoint)
        docs = self.store.scan(PERMISSION, org.id, self.now(), tag=checkpoint)
        perms = [_permission(d) for d in docs if project_id in (None, d["project_id"])]
        if page.order == "desc":
            perms.reverse()
        return slice_after(perms, page, permission_id)

    @one_instant
    def delete(self, org: Organization, checkpoint: str, permission: str) -> str:
        self._owned(org, checkpoint)
        doc = self.store.get(PERMISSION, permission, org.id, self.now())
        if doc is None or doc.get("checkpoint") != checkpoint:
            raise errors.permission_not_found(permission)
        with self.store.transaction():
            self.store.delete(PERMISSION, permission)
            self.store.delete(GRANT, _grant_key(doc["project_id"], checkpoint))
        return permission

    # -- for calling and listing models

    def granted(self, project: str | None, model: str) -> dict[str, Any] | None:
        """The model's document if it is granted to the project (and still exists)."""
        if project is None:
            return None
        now = self.now()
        if self.store.get(GRANT, _grant_key(project, model), None, now) is None:
            return None
        return readable(self.store.get(MODEL, model, None, now))

    def granted_models(self, project: str | None) -> list[dict[str, Any]]:
        """The documents of every model granted to the project, oldest grant first."""
        if project is None:
            return []
        now = self.now()
        grants = self.store.scan(GRANT, None, now, tag=project)
        found = (readable(self.store.get(MODEL, g["model"], None, now)) for g in grants)
        return [doc for doc in found if doc is not None]

    def _owned(self, org: Organization, checkpoint: str) -> dict[str, Any]:
        """The document of a model the organization owns (its project: `project_id`)."""
        doc = self.store.get(MODEL, checkpoint, org.id, self.now())
        if doc is None:
            raise errors.model_not_accessible(checkpoint)
        return doc


def _grant_key(project: str, model: str) -> str:
    return project + GRANT_SEPARATOR + model


def _permission(doc: dict[str, Any]) -> Permission:
    return Permission(id=doc["id"], created_at=doc["created_at"], project_id=doc["project_id"])
