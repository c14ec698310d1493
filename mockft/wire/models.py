"""Models (base and fine-tuned) as the API writes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockft.service.models import ModelInfo

OBJECT = "model"


def model(m: ModelInfo) -> dict[str, Any]:
    return {"id": m.id, "object": OBJECT, "created": m.created, "owned_by": m.owned_by}


def model_list(models: Sequence[ModelInfo]) -> dict[str, Any]:
    return {"object": "list", "data": [model(m) for m in models]}


def deleted(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": OBJECT, "deleted": True}
