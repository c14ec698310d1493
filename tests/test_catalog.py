from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from pydantic import ValidationError

from mockft.catalog import Catalog, CatalogModel, FineTuningSpec, load_catalog

ALIASES = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "o4-mini": "o4-mini-2025-04-16",
}
NOT_FINE_TUNABLE = [
    "gpt-4o-2024-05-13",
    "gpt-4o-2024-11-20",
    "gpt-4-turbo",
    "gpt-4",
    "gpt-3.5-turbo-instruct",
    "text-embedding-3-small",
    "whisper-1",
    "dall-e-3",
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def raw_entries() -> list[dict[str, Any]]:
    text = resources.files("mockft").joinpath("fixtures/models.json").read_text("utf-8")
    entries: list[dict[str, Any]] = json.loads(text)["models"]
    return entries


def test_load_is_cached(catalog: Catalog) -> None:
    assert load_catalog() is catalog


def test_all_keeps_file_order(catalog: Catalog) -> None:
    assert [m.id for m in catalog.all()] == [e["id"] for e in raw_entries()]
    assert 20 <= len(catalog) <= 40


@pytest.mark.parametrize(("alias", "snapshot"), sorted(ALIASES.items()))
def test_aliases_resolve_to_their_snapshot(catalog: Catalog, alias: str, snapshot: str) -> None:
    entry = catalog.get(alias)
    assert entry is not None and entry.is_alias
    resolved = catalog.resolve(alias)
    assert resolved is not None and resolved.id == snapshot
    assert alias in catalog.aliases_of(snapshot)


def test_snapshot_and_unknown_resolve(catalog: Catalog) -> None:
    snapshot = catalog.resolve("gpt-4o-mini-2024-07-18")
    assert snapshot is not None and snapshot.id == "gpt-4o-mini-2024-07-18"
    assert catalog.resolve("gpt-17") is None
    assert catalog.get("gpt-17") is None
    assert catalog.fine_tuning("gpt-17") is None
    assert catalog.resolve("ft:gpt-4o-mini-2024-07-18:org::abc12345") is None


def test_every_alias_snapshot_exists_in_the_file() -> None:
    ids = {e["id"] for e in raw_entries()}
    aliases = [e for e in raw_entries() if "snapshot" in e]
    assert len(aliases) >= len(ALIASES)
    for entry in aliases:
        assert entry["snapshot"] in ids, entry["id"]
        assert "fine_tuning" not in entry, f"{entry['id']}: aliases inherit fine-tuning"


def test_aliases_are_fine_tunable_through_their_snapshot(catalog: Catalog) -> None:
    for alias, snapshot in ALIASES.items():
        entry = catalog.get(alias)
        assert entry is not None and entry.fine_tuning is None
        assert catalog.fine_tuning(alias) == catalog.fine_tuning(snapshot) is not None


def test_fine_tunable_snapshots(catalog: Catalog) -> None:
    tunable = {m.id for m in catalog.fine_tunable()}
    assert tunable == {
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
        "o4-mini-2025-04-16",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
        "gpt-3.5-turbo-0125",
        "gpt-3.5-turbo-1106",
        "gpt-3.5-turbo-0613",
        "babbage-002",
        "davinci-002",
    }


@pytest.mark.parametrize("model_id", NOT_FINE_TUNABLE)
def test_not_fine_tunable(catalog: Catalog, model_id: str) -> None:
    assert catalog.get(model_id) is not None
    assert catalog.fine_tuning(model_id) is None


def test_methods(catalog: Catalog) -> None:
    def methods(model_id: str) -> tuple[str, ...]:
        spec = catalog.fine_tuning(model_id)
        assert spec is not None
        return spec.methods

    assert methods("o4-mini") == ("reinforcement",)
    for model_id in ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano"]:
        assert set(methods(model_id)) == {"supervised", "dpo"}
    for model_id in ["gpt-3.5-turbo", "gpt-3.5-turbo-1106", "babbage-002", "davinci-002"]:
        assert methods(model_id) == ("supervised",)
    spec = catalog.fine_tuning("gpt-4o-mini")
    assert spec is not None and spec.supports("dpo") and not spec.supports("reinforcement")
    reinforcement = [
        m.id
        for m in catalog.fine_tunable()
        if m.fine_tuning is not None and m.fine_tuning.supports("reinforcement")
    ]
    assert reinforcement == ["o4-mini-2025-04-16"]


def test_formats_and_limits(catalog: Catalog) -> None:
    def spec(model_id: str) -> FineTuningSpec:
        found = catalog.fine_tuning(model_id)
        assert found is not None
        return found

    assert spec("babbage-002").format == spec("davinci-002").format == "prompt_completion"
    assert spec("gpt-4o-mini").format == "chat"
    assert spec("gpt-4o-2024-08-06").max_tokens_per_example == 65536
    assert spec("gpt-4o-mini-2024-07-18").max_tokens_per_example == 65536
    assert spec("gpt-3.5-turbo-0125").max_tokens_per_example == 16385
    assert spec("gpt-3.5-turbo-1106").max_tokens_per_example == 16385
    assert spec("gpt-3.5-turbo-0613").max_tokens_per_example == 4096
    for model_id in ["gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano"]:
        assert spec(model_id).max_tokens_per_example == 65536


def test_every_fine_tunable_snapshot_has_a_price(catalog: Catalog) -> None:
    for model in catalog.fine_tunable():
        assert model.fine_tuning is not None
        ft = model.fine_tuning
        priced = [p for p in (ft.training_price_per_1m_tokens, ft.training_price_per_hour) if p]
        assert len(priced) == 1, model.id
        if ft.supports("reinforcement"):
            assert ft.training_price_per_hour is not None, model.id


def test_published_prices(catalog: Catalog) -> None:
    per_1m = {
        "gpt-4o-2024-08-06": 25.00,
        "gpt-4o-mini": 3.00,
        "gpt-3.5-turbo": 8.00,
        "davinci-002": 6.00,
        "babbage-002": 0.40,
        "gpt-4.1": 25.00,
        "gpt-4.1-mini": 5.00,
        "gpt-4.1-nano": 1.50,
    }
    for model_id, price in per_1m.items():
        spec = catalog.fine_tuning(model_id)
        assert spec is not None and spec.training_price_per_1m_tokens == price, model_id
    o4 = catalog.fine_tuning("o4-mini")
    assert o4 is not None
    assert o4.training_price_per_hour == 100.00 and o4.training_price_per_1m_tokens is None


def test_to_api_shape(catalog: Catalog) -> None:
    for model in catalog.all():
        api = model.to_api()
        assert list(api) == ["id", "object", "created", "owned_by"]
        assert api["object"] == "model"
        assert isinstance(api["created"], int) and api["created"] > 1_600_000_000
        assert api["owned_by"] in {"system", "openai", "openai-internal"}


def test_to_api_matches_the_recorded_real_response(catalog: Catalog) -> None:
    # GET /v1/models/gpt-3.5-turbo-instruct, recorded against api.openai.com
    entry = catalog.get("gpt-3.5-turbo-instruct")
    assert entry is not None
    assert entry.to_api() == {
        "id": "gpt-3.5-turbo-instruct",
        "object": "model",
        "created": 1692901427,
        "owned_by": "system",
    }
    sixteen_k = catalog.get("gpt-3.5-turbo-16k")
    assert sixteen_k is not None
    assert (sixteen_k.created, sixteen_k.owned_by) == (1683758102, "openai-internal")


def test_entries_are_immutable(catalog: Catalog) -> None:
    entry = catalog.get("gpt-4o")
    assert entry is not None
    with pytest.raises(ValidationError):
        entry.created = 1


def model(model_id: str, **extra: Any) -> CatalogModel:
    return CatalogModel.model_validate(
        {"id": model_id, "created": 1700000000, "owned_by": "system", **extra}
    )


SPEC = {"methods": ["supervised"], "format": "chat", "max_tokens_per_example": 4096}


def test_catalog_rejects_inconsistent_data() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Catalog([model("a"), model("a")])
    with pytest.raises(ValueError, match="not in the catalog"):
        Catalog([model("a", snapshot="a-1")])
    with pytest.raises(ValueError, match="itself an alias"):
        Catalog([model("a", snapshot="b"), model("b", snapshot="c"), model("c")])
    with pytest.raises(ValidationError, match="inherits"):
        model("a", snapshot="b", fine_tuning={**SPEC, "training_price_per_1m_tokens": 1.0})
    with pytest.raises(ValidationError, match="exactly one"):
        model("a", fine_tuning=SPEC)
    with pytest.raises(ValidationError, match="exactly one"):
        model(
            "a",
            fine_tuning={
                **SPEC,
                "training_price_per_1m_tokens": 1.0,
                "training_price_per_hour": 1.0,
            },
        )
    with pytest.raises(ValidationError):
        model("a", owned_by="someone")
    with pytest.raises(ValidationError):
        model("a", fine_tuning={**SPEC, "methods": ["magic"], "training_price_per_hour": 1.0})


def test_from_json_round_trip() -> None:
    data = json.dumps(
        {
            "models": [
                {"id": "m", "created": 1, "owned_by": "openai", "snapshot": "m-1"},
                {
                    "id": "m-1",
                    "created": 2,
                    "owned_by": "system",
                    "fine_tuning": {**SPEC, "training_price_per_1m_tokens": 2.5},
                },
            ]
        }
    )
    small = Catalog.from_json(data)
    assert [m.id for m in small] == ["m", "m-1"]
    assert "m" in small and "x" not in small
    spec = small.fine_tuning("m")
    assert spec is not None and spec.training_price_per_1m_tokens == 2.5
