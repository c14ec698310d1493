"""Checkpoint permissions as the API writes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OBJECT = "checkpoint.permission"


@dataclass(frozen=True)
class Permission:
    id: str
    created_at: int
    project_id: str


def permission(p: Permission) -> dict[str, Any]:
    return {"object": OBJECT, "id": p.id, "created_at": p.created_at, "project_id": p.project_id}


def permission_id(p: Permission) -> str:
    return p.id


def deleted(permission_id: str) -> dict[str, Any]:
    return {"object": OBJECT, "id": permission_id, "deleted": True}
