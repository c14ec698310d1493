"""Base models a scenario adds to the catalog or takes out of it."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from mockft.catalog import Catalog, CatalogModel
from mockft.scenario.loader import Item, Problem
from mockft.scenario.model import ModelSpec


def changed_catalog(
    catalog: Catalog,
    removed: list[Item[str]],
    added: list[Item[ModelSpec]],
    problems: list[Problem],
) -> Catalog:
    """`catalog` without the removed models (and the aliases of a removed snapshot), with
    the added ones (an added model of a listed id replaces it). Problems are appended to
    `problems`; the catalog returned then is `catalog` unchanged."""
    if not removed and not added:
        return catalog
    found = len(problems)
    gone: set[str] = set()
    for removal in removed:
        if removal.spec not in catalog:
            problems.append(removal.origin.problem(f"no base model {removal.spec} to remove"))
        gone.add(removal.spec)
    kept = [
        m
        for m in catalog.all()
        if m.id not in gone and (m.snapshot is None or m.snapshot not in gone)
    ]
    entries: dict[str, CatalogModel] = {m.id: m for m in kept}
    for item in added:
        model = _model(item, catalog, problems)
        if model is not None:
            entries[model.id] = model
    try:
        changed = Catalog(entries.values())
    except ValueError as exc:
        origin = (added or removed)[-1].origin
        problems.append(origin.problem(str(exc)))
    if len(problems) > found:
        return catalog
    return changed


def _model(item: Item[ModelSpec], catalog: Catalog, problems: list[Problem]) -> CatalogModel | None:
    spec = item.spec
    fields: dict[str, Any] = {}
    if spec.like is not None:
        like = catalog.get(spec.like)
        if like is None:
            problems.append(item.origin.problem(f"no base model {spec.like} to be like", "like"))
            return None
        fields = like.model_dump()
        fields.pop("snapshot", None)  # a model like an alias is a snapshot like its target
        if like.snapshot is not None:
            target = catalog.get(like.snapshot)
            fields["fine_tuning"] = (
                target.fine_tuning.model_dump() if target and target.fine_tuning else None
            )
    given = spec.model_dump(exclude_none=True, exclude={"like", "fine_tunable"})
    fields.update(given)
    if spec.fine_tunable is False or fields.get("snapshot") is not None:
        fields["fine_tuning"] = None
    fields.setdefault("created", 1)
    fields.setdefault("owned_by", "system")
    try:
        return CatalogModel.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = ".".join(str(p) for p in error["loc"])
            problems.append(
                item.origin.problem(f"{where}: {error['msg']}" if where else error["msg"])
            )
        return None
