"""The catalog of OpenAI base models that mockft serves and can fine-tune.

The data lives in ``mockft/fixtures/models.json`` (shipped with the package): one entry per
model id as ``/v1/models`` lists it, with the real ``created`` and ``owned_by``. An alias such
as ``gpt-4o-mini`` names the dated snapshot it resolves to (``gpt-4o-mini-2024-07-18``); only
snapshots carry a ``fine_tuning`` spec, so an alias is fine-tunable exactly when its snapshot
is, and a fine-tuned model is named after the snapshot (``ft:gpt-4o-mini-2024-07-18:...``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CATALOG_PACKAGE: Final = "mockft"
CATALOG_RESOURCE: Final = "fixtures/models.json"
MODEL_OBJECT: Final = "model"

FineTuningMethod = Literal["supervised", "dpo", "reinforcement"]
ExampleFormat = Literal["chat", "prompt_completion"]
OwnedBy = Literal["system", "openai", "openai-internal"]
# The API that serves a model: chat models answer /v1/chat/completions only, completions
# models (babbage-002, davinci-002, gpt-3.5-turbo-instruct) /v1/completions only.
Endpoint = Literal["chat", "completions", "embeddings", "audio", "images"]


class FineTuningSpec(BaseModel):
    """How a snapshot can be fine-tuned: methods, data format, limits and price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    methods: tuple[FineTuningMethod, ...] = Field(min_length=1)
    format: ExampleFormat
    max_tokens_per_example: int = Field(gt=0)
    training_price_per_1m_tokens: float | None = Field(default=None, gt=0)
    training_price_per_hour: float | None = Field(default=None, gt=0)
    # Vision fine-tuning: training examples may hold images (gpt-4o-2024-08-06 only, as the
    # vision fine-tuning guide lists it).
    images: bool = False

    @model_validator(mode="after")
    def _one_price(self) -> FineTuningSpec:
        if (self.training_price_per_1m_tokens is None) == (self.training_price_per_hour is None):
            raise ValueError(
                "give exactly one of training_price_per_1m_tokens and training_price_per_hour"
            )
        return self

    def supports(self, method: str) -> bool:
        return method in self.methods


class CatalogModel(BaseModel):
    """One entry of ``/v1/models``, plus what mockft needs to know about it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    created: int = Field(gt=0)
    owned_by: OwnedBy
    snapshot: str | None = None  # set on aliases: the dated snapshot they resolve to
    endpoint: Endpoint = "chat"
    context_window: int | None = Field(default=None, gt=0)  # None: not a text model
    # The most a reply may hold; None: only the context window bounds it.
    max_output_tokens: int | None = Field(default=None, gt=0)
    fine_tuning: FineTuningSpec | None = None

    @model_validator(mode="after")
    def _aliases_are_not_tunable(self) -> CatalogModel:
        if self.snapshot is not None and self.fine_tuning is not None:
            raise ValueError(f"{self.id}: an alias inherits fine-tuning from its snapshot")
        if self.snapshot == self.id:
            raise ValueError(f"{self.id}: an alias cannot resolve to itself")
        return self

    @property
    def is_alias(self) -> bool:
        return self.snapshot is not None

    def to_api(self) -> dict[str, Any]:
        """The object ``/v1/models`` serves: exactly id, object, created, owned_by."""
        return {
            "id": self.id,
            "object": MODEL_OBJECT,
            "created": self.created,
            "owned_by": self.owned_by,
        }


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[CatalogModel]


class Catalog:
    """Base models by id, in file order, with alias resolution."""

    def __init__(self, models: Iterable[CatalogModel]) -> None:
        self._models = tuple(models)
        self._by_id: dict[str, CatalogModel] = {}
        for model in self._models:
            if model.id in self._by_id:
                raise ValueError(f"duplicate model id in catalog: {model.id}")
            self._by_id[model.id] = model
        for model in self._models:
            if model.snapshot is None:
                continue
            target = self._by_id.get(model.snapshot)
            if target is None:
                raise ValueError(f"{model.id}: snapshot {model.snapshot} is not in the catalog")
            if target.is_alias:
                raise ValueError(f"{model.id}: snapshot {model.snapshot} is itself an alias")
            if target.endpoint != model.endpoint:
                raise ValueError(f"{model.id}: served by another endpoint than {model.snapshot}")

    @classmethod
    def from_json(cls, data: str | bytes) -> Catalog:
        return cls(_CatalogFile.model_validate(json.loads(data)).models)

    def all(self) -> list[CatalogModel]:
        return list(self._models)

    def get(self, model_id: str) -> CatalogModel | None:
        return self._by_id.get(model_id)

    def resolve(self, model_id: str) -> CatalogModel | None:
        """The entry a model id trains and serves as: an alias's snapshot, else itself."""
        model = self._by_id.get(model_id)
        if model is None or model.snapshot is None:
            return model
        return self._by_id[model.snapshot]

    def fine_tuning(self, model_id: str) -> FineTuningSpec | None:
        """How ``model_id`` (after alias resolution) can be fine-tuned; None if it cannot."""
        model = self.resolve(model_id)
        return None if model is None else model.fine_tuning

    def fine_tunable(self) -> list[CatalogModel]:
        """Snapshots that can be fine-tuned, in file order."""
        return [model for model in self._models if model.fine_tuning is not None]

    def aliases_of(self, snapshot_id: str) -> list[str]:
        return [model.id for model in self._models if model.snapshot == snapshot_id]

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._by_id

    def __iter__(self) -> Iterator[CatalogModel]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)


@functools.cache
def load_catalog() -> Catalog:
    """The catalog shipped in the package (parsed once per process)."""
    resource = resources.files(CATALOG_PACKAGE).joinpath(CATALOG_RESOURCE)
    return Catalog.from_json(resource.read_bytes())
