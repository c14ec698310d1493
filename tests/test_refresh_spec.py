"""The vendored OpenAPI copy is complete and current, and refresh_spec prunes and reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import refresh_spec
from tests.openapi_contract import VENDORED_SPEC

DATA = Path(__file__).resolve().parent / "data"


def vendored() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(VENDORED_SPEC.read_bytes())
    return spec


def tiny(**schemas: Any) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"version": "1"},
        "servers": [{"url": "https://api.openai.com/v1"}],
        "security": [{"ApiKeyAuth": []}],
        "tags": [{"name": "dropped"}],
        "paths": {
            "/files/{file_id}": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/File"}
                                }
                            }
                        }
                    }
                }
            },
            "/filesystem": {"get": {"$ref": "#/components/schemas/Unused"}},
            "/assistants": {"get": {"$ref": "#/components/schemas/Unused"}},
        },
        "webhooks": {
            "fine_tuning.job.succeeded": {"post": {"$ref": "#/components/schemas/Event"}},
            "batch.completed": {"post": {"$ref": "#/components/schemas/Unused"}},
        },
        "components": {
            "schemas": {
                "File": {"properties": {"status": {"$ref": "#/components/schemas/Status"}}},
                "Status": {"enum": ["processed"]},
                "Event": {"type": "object"},
                "ErrorResponse": {"type": "object"},
                "Unused": {"type": "string"},
                **schemas,
            },
            "securitySchemes": {"ApiKeyAuth": {"type": "http"}, "Other": {"type": "http"}},
        },
        "x-oaiMeta": {"navigationGroups": []},
    }


def test_prune_keeps_the_served_families_and_what_they_reference() -> None:
    pruned = refresh_spec.prune(tiny())
    assert list(pruned["paths"]) == ["/files/{file_id}"]  # not /filesystem, not /assistants
    assert list(pruned["webhooks"]) == ["fine_tuning.job.succeeded"]
    assert list(pruned["components"]["schemas"]) == ["File", "Status", "Event", "ErrorResponse"]
    assert pruned["components"]["securitySchemes"] == {"ApiKeyAuth": {"type": "http"}}
    assert "tags" not in pruned and "x-oaiMeta" not in pruned
    assert pruned["paths"]["/files/{file_id}"] == tiny()["paths"]["/files/{file_id}"]


def test_prune_refuses_a_dangling_ref() -> None:
    spec = tiny(File={"$ref": "#/components/schemas/Missing"})
    with pytest.raises(ValueError, match="Missing"):
        refresh_spec.prune(spec)


def test_the_vendored_copy_is_closed_under_its_refs() -> None:
    spec = vendored()
    components = spec["components"]
    for ref in refresh_spec._refs([spec["paths"], spec.get("webhooks", {}), components]):
        group, name = ref.removeprefix("#/components/").split("/")
        assert name in components[group], ref


def test_pruning_the_vendored_copy_changes_nothing() -> None:
    spec = vendored()
    assert refresh_spec.prune(spec) == spec


@pytest.mark.parametrize(
    "path",
    [
        "/files",
        "/uploads/{upload_id}/parts",
        "/fine_tuning/jobs/{fine_tuning_job_id}/events",
        "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints",
        "/fine_tuning/jobs/{fine_tuning_job_id}/pause",
        "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions",
        "/fine_tuning/alpha/graders/validate",
        "/models/{model}",
        "/chat/completions",
        "/completions",
    ],
)
def test_the_vendored_copy_has_each_served_path(path: str) -> None:
    assert path in vendored()["paths"]


def test_compare_names_what_was_added_removed_and_changed() -> None:
    old = refresh_spec.prune(tiny())
    new = refresh_spec.prune(tiny(Status={"enum": ["processed", "error"]}))
    del new["paths"]["/files/{file_id}"]
    new["paths"]["/files"] = {"get": {"responses": {}}}
    changes = refresh_spec.compare(old, new)
    assert changes.added["paths"] == ["/files"]
    assert changes.removed["paths"] == ["/files/{file_id}"]
    assert changes.changed["components/schemas"] == ["Status"]
    report = changes.report()
    assert "paths: 1 added\n  + /files" in report
    assert "components/schemas: 1 changed\n  ~ Status" in report
    assert refresh_spec.compare(old, old).report() == "no changes"


def test_refresh_writes_the_copy_its_license_and_source(tmp_path: Path) -> None:
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "openapi.json").write_text(json.dumps(tiny()))
    (upstream / "LICENSE").write_text("MIT\n")
    (upstream / "SOURCE.md").write_text("- Commit: 0123456789abcdef (2026-01-01)\n")
    target = tmp_path / "vendored"

    argv = [str(upstream / "openapi.json"), "--target", str(target)]
    assert refresh_spec.main(argv) == 0
    written = json.loads((target / "openapi.json").read_text())
    assert written == refresh_spec.prune(tiny())
    assert (target / "LICENSE").read_text() == "MIT\n"
    assert "Commit: 0123456789abcdef" in (target / "SOURCE.md").read_text()
    assert refresh_spec.main([*argv, "--check"]) == 0  # the same upstream: nothing to do

    newer = tiny(Status={"enum": ["processed", "error"]})
    (upstream / "openapi.json").write_text(json.dumps(newer))
    assert refresh_spec.main([*argv, "--check"]) == 1
    assert json.loads((target / "openapi.json").read_text()) == written  # --check wrote nothing


def test_the_vendored_copy_names_its_upstream_and_license() -> None:
    source = (DATA / "openai-openapi" / "SOURCE.md").read_text()
    assert "Commit: f85dbe223d40e1a31cba812ab2d755c7e98a92a3" in source
    assert (DATA / "openai-openapi" / "LICENSE").read_text().startswith("The MIT License")
