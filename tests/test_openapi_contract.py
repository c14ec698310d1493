"""Tests of the OpenAPI contract helper, anchored on bodies recorded from the real API."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

import tests.openapi_contract as contract
from tests.openapi_contract import (
    UnknownOperationError,
    assert_request_conforms,
    assert_response_conforms,
    check,
    normalise_schema,
    operation_for,
    request_violations,
    response_violations,
    schema_violations,
)

# ruby-openai's cassettes, vendored with their licence and commit (tests/data/captures/README.md)
RECORDED = Path(__file__).resolve().parent / "data" / "captures" / "ruby-openai"


def recorded(name: str, index: int = 0) -> dict[str, Any]:
    interactions: list[dict[str, Any]] = json.loads((RECORDED / name).read_text())
    return interactions[index]


def recorded_body(name: str, index: int = 0) -> Any:
    return copy.deepcopy(recorded(name, index)["response"]["body"])


@pytest.fixture(scope="module")
def file_object() -> dict[str, Any]:
    """The real FileObject from files_upload_file.json (its `status_details: null` is a
    documented deviation, NULLABLE_DEVIATIONS)."""
    body: dict[str, Any] = recorded_body("files_upload_file.json")
    return body


@pytest.fixture(scope="module")
def job() -> dict[str, Any]:
    """The real job from finetunes_create.json, with `error: null` as the spec wants."""
    body: dict[str, Any] = recorded_body("finetunes_create.json")
    body["error"] = None
    return body


# --- loading ---------------------------------------------------------------------------------


def test_spec_is_the_copy_in_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(contract.ENV_VAR, raising=False)
    tests = Path(contract.__file__).resolve().parent
    assert contract.spec_path() == tests / "data" / "openai-openapi" / "openapi.json"
    assert contract.load_spec()["servers"][0]["url"] == "https://api.openai.com/v1"


def test_spec_is_loaded_once() -> None:
    assert contract.load_spec() is contract.load_spec()


def test_env_var_points_at_another_spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tiny = {
        "openapi": "3.1.0",
        "servers": [{"url": "https://example.test/api"}],
        "paths": {
            "/things/{a}/{b}": {"get": {"operationId": "byTwo", "responses": {}}},
            "/things/{a}/fixed": {"get": {"operationId": "secondFixed", "responses": {}}},
            "/things/fixed/{b}": {"get": {"operationId": "firstFixed", "responses": {}}},
        },
        "components": {
            "schemas": {
                "FineTuningJob": {
                    "properties": {
                        "status": {"enum": ["queued"]},
                        "hyperparameters": {"type": "object"},
                        "error": {"anyOf": [{"type": "object"}, {"type": "null"}]},
                    }
                },
                "FineTuningJobEvent": {"properties": {"data": {"type": "object"}}},
                "OpenAIFile": {
                    "properties": {
                        "purpose": {"enum": ["fine-tune"]},
                        "status_details": {"type": "string"},
                        "expires_at": {"type": "integer"},
                    }
                },
                "ListFilesResponse": {
                    "properties": {"first_id": {"type": "string"}, "last_id": {"type": "string"}}
                },
            }
        },
    }
    spec_file = tmp_path / "openapi.json"
    spec_file.write_text(json.dumps(tiny))
    monkeypatch.setenv(contract.ENV_VAR, str(spec_file))

    assert contract.spec_path() == spec_file.resolve()
    assert operation_for("GET", "/api/things/x/y").operation_id == "byTwo"
    assert operation_for("GET", "/api/things/x/fixed").operation_id == "secondFixed"
    # both templates match; the one whose fixed segment comes first wins
    assert operation_for("GET", "/api/things/fixed/fixed").operation_id == "firstFixed"
    with pytest.raises(UnknownOperationError):
        operation_for("GET", "/v1/things/x/y")


def test_missing_spec_says_where_it_looked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(contract.ENV_VAR, str(tmp_path / "nowhere.json"))
    with pytest.raises(FileNotFoundError, match=contract.ENV_VAR):
        contract.load_spec()


# --- path mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "template", "params"),
    [
        ("GET", "/v1/files", "/files", {}),
        ("GET", "/v1/files?purpose=fine-tune&limit=2", "/files", {}),
        ("GET", "/v1/files/file-abc", "/files/{file_id}", {"file_id": "file-abc"}),
        ("GET", "/v1/files/file-abc/content", "/files/{file_id}/content", {"file_id": "file-abc"}),
        (
            "GET",
            "/v1/fine_tuning/jobs/ftjob-x/events",
            "/fine_tuning/jobs/{fine_tuning_job_id}/events",
            {"fine_tuning_job_id": "ftjob-x"},
        ),
        (
            "POST",
            "/v1/fine_tuning/jobs/ftjob-x/cancel",
            "/fine_tuning/jobs/{fine_tuning_job_id}/cancel",
            {"fine_tuning_job_id": "ftjob-x"},
        ),
        (
            "GET",
            "/v1/fine_tuning/jobs/ftjob-x",
            "/fine_tuning/jobs/{fine_tuning_job_id}",
            {"fine_tuning_job_id": "ftjob-x"},
        ),
        (
            "POST",
            "/v1/fine_tuning/jobs/ftjob-x/pause",
            "/fine_tuning/jobs/{fine_tuning_job_id}/pause",
            {"fine_tuning_job_id": "ftjob-x"},
        ),
        (
            "GET",
            "/v1/models/ft:gpt-4o-mini-2024-07-18:org::abc12345",
            "/models/{model}",
            {"model": "ft:gpt-4o-mini-2024-07-18:org::abc12345"},
        ),
        (
            "DELETE",
            "/v1/models/ft:gpt-4o-mini-2024-07-18:org:custom:abc12345",
            "/models/{model}",
            {"model": "ft:gpt-4o-mini-2024-07-18:org:custom:abc12345"},
        ),
        (
            "POST",
            "/v1/uploads/upload_x/parts",
            "/uploads/{upload_id}/parts",
            {"upload_id": "upload_x"},
        ),
        (
            "GET",
            "/v1/fine_tuning/checkpoints/ft:gpt-4o-mini-2024-07-18:org::abc:ckpt-step-10/permissions",
            "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions",
            {"fine_tuned_model_checkpoint": "ft:gpt-4o-mini-2024-07-18:org::abc:ckpt-step-10"},
        ),
        ("POST", "https://api.openai.com/v1/chat/completions", "/chat/completions", {}),
        ("POST", "/v1/completions", "/completions", {}),
        ("POST", "/v1/fine_tuning/alpha/graders/run", "/fine_tuning/alpha/graders/run", {}),
        (
            "DELETE",
            "/v1/fine_tuning/checkpoints/ft:gpt-4o-mini-2024-07-18:org::abc:ckpt-step-10"
            "/permissions/cp_1",
            "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions/{permission_id}",
            {
                "fine_tuned_model_checkpoint": "ft:gpt-4o-mini-2024-07-18:org::abc:ckpt-step-10",
                "permission_id": "cp_1",
            },
        ),
    ],
)
def test_paths_map_to_spec_templates(
    method: str, path: str, template: str, params: dict[str, str]
) -> None:
    operation = operation_for(method, path)
    assert operation.path_template == template
    assert dict(operation.path_params) == params
    assert operation.method == method


def test_operation_carries_its_id_and_spec() -> None:
    operation = operation_for("post", "/v1/fine_tuning/jobs")
    assert operation.operation_id == "createFineTuningJob"
    assert "requestBody" in operation.spec


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/fine_tuning/jobs/ftjob-x/cancel"),  # path exists, method does not
        ("GET", "/v1/nothing/here"),
        ("GET", "/files"),  # no /v1 prefix
        ("GET", "/mockft/health"),
        ("GET", "/v1/files/"),  # an empty segment is not an id
    ],
)
def test_unknown_operations_are_refused(method: str, path: str) -> None:
    with pytest.raises(UnknownOperationError):
        operation_for(method, path)


# --- responses: recorded anchors ------------------------------------------------------------


def test_recorded_null_status_details_and_expires_at_are_documented_deviations(
    file_object: dict[str, Any],
) -> None:
    assert file_object["status_details"] is None
    assert_response_conforms("POST", "/v1/files", 200, file_object)
    assert_response_conforms("GET", f"/v1/files/{file_object['id']}", 200, file_object)
    assert_response_conforms("POST", "/v1/files", 200, {**file_object, "expires_at": None})
    # Only null is admitted beside the declared types.
    found = response_violations("POST", "/v1/files", 200, {**file_object, "status_details": 5})
    assert found == ["$.status_details: 5 is not of type 'string', 'null'"]


@pytest.mark.parametrize(
    "name",
    [
        "finetunes_retrieve.json",
        "finetunes_cancel.json",
        "finetunes_event_list.json",
        "models_delete.json",
    ],
)
def test_recorded_404_bodies_conform_as_errors(name: str) -> None:
    interaction = recorded(name)
    request, response = interaction["request"], interaction["response"]
    assert response["status"] == 404
    assert_response_conforms(request["method"], request["path"], 404, response["body"])


@pytest.mark.parametrize(
    ("name", "index"),
    [("models_list.json", 0), ("models_retrieve.json", 0), ("files_delete.json", 0)],
)
def test_other_recorded_bodies_conform(name: str, index: int) -> None:
    interaction = recorded(name, index)
    request, response = interaction["request"], interaction["response"]
    assert_response_conforms(
        request["method"], request["path"], response["status"], response["body"]
    )


def test_recorded_job_with_empty_error_object_conforms_but_a_partial_error_does_not() -> None:
    """The real API sends `error: {}` for a job that has not failed (EMPTY_OBJECT_DEVIATIONS);
    an error object with some of its fields is still wrong."""
    body = recorded_body("finetunes_create.json")
    assert body["error"] == {}
    assert response_violations("POST", "/v1/fine_tuning/jobs", 200, body) == []
    partial = {**body, "error": {"code": "x"}}
    [violation] = response_violations("POST", "/v1/fine_tuning/jobs", 200, partial)
    assert violation.startswith("$.error: {'code': 'x'} is not valid under any of the given")


def test_recorded_job_with_null_error_conforms(job: dict[str, Any]) -> None:
    assert_response_conforms("POST", "/v1/fine_tuning/jobs", 200, job)
    assert_response_conforms("GET", f"/v1/fine_tuning/jobs/{job['id']}", 200, job)


# --- responses: violations name their JSON path ------------------------------------------


def test_wrong_type_names_the_field(file_object: dict[str, Any]) -> None:
    body = {**file_object, "bytes": "159"}
    assert response_violations("POST", "/v1/files", 200, body) == [
        "$.bytes: '159' is not of type 'integer'"
    ]


def test_missing_required_field_names_the_object(file_object: dict[str, Any]) -> None:
    body = {k: v for k, v in file_object.items() if k != "filename"}
    assert response_violations("POST", "/v1/files", 200, body) == [
        "$: 'filename' is a required property"
    ]


def test_enum_violation_names_the_field(file_object: dict[str, Any]) -> None:
    body = {**file_object, "purpose": "fine-tuning"}
    [violation] = response_violations("POST", "/v1/files", 200, body)
    assert violation.startswith("$.purpose: 'fine-tuning' is not one of ['assistants'")


def test_nested_violation_in_a_list(file_object: dict[str, Any]) -> None:
    broken = {**file_object, "created_at": "yesterday"}
    del broken["status"]
    body = {
        "object": "list",
        "data": [file_object, broken],
        "first_id": file_object["id"],
        "last_id": broken["id"],
        "has_more": False,
    }
    assert response_violations("GET", "/v1/files", 200, body) == [
        "$.data[1]: 'status' is a required property",
        "$.data[1].created_at: 'yesterday' is not of type 'integer'",
    ]


def test_assertion_lists_every_violation(file_object: dict[str, Any]) -> None:
    body = {**file_object, "bytes": "159", "object": "files"}
    with pytest.raises(AssertionError) as raised:
        assert_response_conforms("GET", "/v1/files/file-x", 200, body)
    message = str(raised.value)
    assert "GET /v1/files/file-x -> 200" in message
    assert "$.bytes: '159' is not of type 'integer'" in message
    assert "$.object: 'files' is not one of ['file']" in message


def test_extra_properties_are_allowed_only_where_the_schema_allows(
    file_object: dict[str, Any], job: dict[str, Any]
) -> None:
    # OpenAIFile does not forbid additional properties (JSON Schema default)...
    assert_response_conforms("POST", "/v1/files", 200, {**file_object, "extra": 1})
    # ...but Metadata says its values are strings.
    found = response_violations("POST", "/v1/fine_tuning/jobs", 200, {**job, "metadata": {"a": 1}})
    assert found and all(v.startswith("$.metadata") for v in found)


def test_unixtime_format_is_not_asserted(file_object: dict[str, Any]) -> None:
    # "unixtime" is OpenAI vocabulary, not a JSON Schema format: integers pass, strings fail
    # on `type`, and nothing complains about the unknown format itself.
    assert schema_violations("OpenAIFile", file_object) == []
    assert schema_violations("OpenAIFile", {**file_object, "created_at": 1.5}) == [
        "$.created_at: 1.5 is not of type 'integer'"
    ]


# --- responses: statuses, errors, non-JSON ----------------------------------------------------


def test_undocumented_success_status_is_flagged(file_object: dict[str, Any]) -> None:
    [violation] = response_violations("POST", "/v1/files", 201, file_object)
    assert "status 201 is not documented for createFile" in violation


def test_undocumented_error_status_uses_the_error_envelope() -> None:
    body = {
        "error": {
            "message": "Incorrect API key provided: sk-x.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    assert_response_conforms("GET", "/v1/files", 401, body)
    assert_response_conforms("POST", "/v1/fine_tuning/jobs", 500, body)


def test_documented_error_status_uses_its_schema() -> None:
    # 429 on chat completions is a $ref to #/components/responses/TooManyRequests
    body = {"error": {"message": "slow down", "type": "requests", "param": None, "code": None}}
    assert_response_conforms("POST", "/v1/chat/completions", 429, body)
    found = response_violations("POST", "/v1/chat/completions", 429, {"error": "slow down"})
    assert found == ["$.error: 'slow down' is not of type 'object'"]


def test_error_must_have_exactly_the_four_keys() -> None:
    body = recorded_body("finetunes_retrieve.json")
    body["error"]["status"] = 404
    assert response_violations("GET", "/v1/fine_tuning/jobs/123", 404, body) == [
        "$.error: must have exactly the keys ['code', 'message', 'param', 'type']: "
        "unexpected ['status']"
    ]
    del body["error"]["status"], body["error"]["param"]
    assert response_violations("GET", "/v1/fine_tuning/jobs/123", 404, body) == [
        "$.error: 'param' is a required property",
        "$.error: must have exactly the keys ['code', 'message', 'param', 'type']: "
        "missing ['param']",
    ]


def test_bare_error_without_envelope_is_flagged() -> None:
    body = recorded_body("finetunes_retrieve.json")["error"]
    assert response_violations("GET", "/v1/fine_tuning/jobs/123", 404, body) == [
        "$: 'error' is a required property"
    ]


def test_non_json_file_content_only_checks_the_status() -> None:
    content = recorded_body("files_content.json")
    path = "/v1/files/file-VAyM3yAs580Dk9SbTBzwl8yN/content"
    assert response_violations("GET", path, 200, content.encode(), "application/octet-stream") == []
    [undocumented] = response_violations("GET", path, 206, b"", "application/octet-stream")
    assert "status 206 is not documented" in undocumented
    [not_json] = response_violations("GET", path, 404, b"not found", "text/plain")
    assert "error responses must be JSON" in not_json


def test_json_content_type_with_parameters_is_json(file_object: dict[str, Any]) -> None:
    ct = "application/json; charset=utf-8"
    assert response_violations("POST", "/v1/files", 200, file_object, ct) == []
    assert response_violations("POST", "/v1/files", 200, {}, ct) != []


# --- the one allowed deviation ------------------------------------------------------------


def test_paused_job_status_is_accepted(job: dict[str, Any]) -> None:
    assert (
        "paused" in contract.SPEC_DEVIATIONS["/components/schemas/FineTuningJob/properties/status"]
    )
    paused = {**job, "status": "paused"}
    assert schema_violations("FineTuningJob", paused) == []
    assert_response_conforms("POST", f"/v1/fine_tuning/jobs/{job['id']}/pause", 200, paused)


def test_bogus_job_status_is_rejected(job: dict[str, Any]) -> None:
    [violation] = schema_violations("FineTuningJob", {**job, "status": "bogus"})
    assert violation.startswith("$.status: 'bogus' is not one of ['validating_files'")
    assert violation.endswith("'paused']")


# --- requests ------------------------------------------------------------------------------


def create_job_request(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini-2024-07-18", "training_file": "file-abc", **extra}


def test_recorded_create_job_request_conforms() -> None:
    request = recorded("finetunes_create.json")["request"]
    assert_request_conforms(request["method"], request["path"], request["body"])


@pytest.mark.parametrize(
    "hyperparameters_at",
    [
        ("hyperparameters",),
        ("method", "supervised", "hyperparameters"),
        ("method", "dpo", "hyperparameters"),
    ],
)
def test_exclusive_minimum_is_normalised(hyperparameters_at: tuple[str, ...]) -> None:
    def payload(multiplier: Any) -> dict[str, Any]:
        node: dict[str, Any] = {"learning_rate_multiplier": multiplier}
        for key in reversed(hyperparameters_at[1:]):
            node = {key: node}
        body = create_job_request(**{hyperparameters_at[0]: node})
        if hyperparameters_at[0] == "method":
            body["method"]["type"] = hyperparameters_at[1]
        return body

    assert request_violations("POST", "/v1/fine_tuning/jobs", payload(0.1)) == []
    assert request_violations("POST", "/v1/fine_tuning/jobs", payload("auto")) == []
    [violation] = request_violations("POST", "/v1/fine_tuning/jobs", payload(0))
    where = "$." + ".".join(hyperparameters_at) + ".learning_rate_multiplier"
    assert violation.startswith(f"{where}: 0 is not valid under any of the given schemas")
    assert "0 is less than or equal to the minimum of 0" in violation


@pytest.mark.parametrize("field_name", ["suffix", "validation_file", "seed", "integrations"])
def test_nullable_fields_accept_null(field_name: str) -> None:
    assert_request_conforms(
        "POST", "/v1/fine_tuning/jobs", create_job_request(**{field_name: None})
    )


def test_nullable_does_not_loosen_the_rest() -> None:
    found = request_violations("POST", "/v1/fine_tuning/jobs", create_job_request(suffix=""))
    assert found == ["$.suffix: '' should be non-empty"]
    found = request_violations("POST", "/v1/fine_tuning/jobs", create_job_request(seed=-1))
    assert found == ["$.seed: -1 is less than the minimum of 0"]


def test_request_missing_required_field() -> None:
    assert request_violations("POST", "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini"}) == [
        "$: 'training_file' is a required property"
    ]
    with pytest.raises(AssertionError, match="request body of POST /v1/fine_tuning/jobs"):
        assert_request_conforms("POST", "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini"})


def test_request_to_operations_without_json_body() -> None:
    [multipart] = request_violations("POST", "/v1/files", {"purpose": "fine-tune"})
    assert "takes no JSON request body" in multipart
    [none] = request_violations("POST", "/v1/fine_tuning/jobs/ftjob-x/cancel", {})
    assert "takes no request body" in none


def test_upload_requests() -> None:
    body = {"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "text/jsonl"}
    assert_request_conforms("POST", "/v1/uploads", body)
    assert_request_conforms("POST", "/v1/uploads/upload_x/complete", {"part_ids": ["part_1"]})


# --- normalisation rules ------------------------------------------------------------------


def test_normalise_exclusive_bounds() -> None:
    assert normalise_schema(
        {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 2}
    ) == {"type": "number", "exclusiveMinimum": 0, "maximum": 2}
    assert normalise_schema({"maximum": 10, "exclusiveMaximum": True}) == {"exclusiveMaximum": 10}
    assert normalise_schema({"minimum": 1, "exclusiveMinimum": False}) == {"minimum": 1}
    assert normalise_schema({"exclusiveMinimum": 3}) == {"exclusiveMinimum": 3}


def test_normalise_nullable() -> None:
    assert normalise_schema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert normalise_schema({"type": "string", "enum": ["a"], "nullable": True}) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }
    assert normalise_schema(
        {"$ref": "#/components/schemas/X", "description": "d", "nullable": True}
    ) == {"description": "d", "anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]}
    assert normalise_schema({"allOf": [{"type": "object"}], "nullable": True}) == {
        "anyOf": [{"allOf": [{"type": "object"}]}, {"type": "null"}]
    }
    assert normalise_schema({"description": "anything", "nullable": True}) == {
        "description": "anything"
    }
    assert normalise_schema({"type": "string", "nullable": False}) == {"type": "string"}


def test_normalise_drops_discriminator_and_keeps_data_alone() -> None:
    schema = {
        "oneOf": [{"$ref": "#/components/schemas/A"}],
        "discriminator": {"propertyName": "type"},
        "properties": {
            "nullable": {"type": "boolean", "nullable": True},
            "discriminator": {"type": "string"},
        },
        "example": {"nullable": True, "minimum": 0, "exclusiveMinimum": True},
        "x-oaiMeta": {"nullable": True},
    }
    assert normalise_schema(schema) == {
        "oneOf": [{"$ref": "#/components/schemas/A"}],
        "properties": {
            "nullable": {"type": ["boolean", "null"]},
            "discriminator": {"type": "string"},
        },
        "example": {"nullable": True, "minimum": 0, "exclusiveMinimum": True},
        "x-oaiMeta": {"nullable": True},
    }
    assert "discriminator" in schema  # the input is not modified


def _schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key not in {"example", "examples", "default", "enum", "const"} and not (
                key.startswith("x-")
            ):
                yield from _schema_nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_nodes(item)


def test_whole_spec_is_normalised() -> None:
    spec = contract.load_spec()
    leftovers = [
        node
        for section in (spec["paths"], spec["components"])
        for node in _schema_nodes(section)
        if isinstance(node.get("nullable"), bool)
        or isinstance(node.get("exclusiveMinimum"), bool)
        or isinstance(node.get("exclusiveMaximum"), bool)
        or isinstance(node.get("discriminator"), dict)
    ]
    assert leftovers == []
    multiplier = spec["components"]["schemas"]["CreateFineTuningJobRequest"]["properties"][
        "hyperparameters"
    ]["properties"]["learning_rate_multiplier"]["oneOf"][1]
    assert multiplier == {"type": "number", "exclusiveMinimum": 0}
    raw = contract.raw_spec()["components"]["schemas"]["CreateFineTuningJobRequest"]
    raw_multiplier = raw["properties"]["hyperparameters"]["properties"]["learning_rate_multiplier"]
    assert raw_multiplier["oneOf"][1] == {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    assert raw["properties"]["suffix"]["nullable"] is True


# --- check(response) -----------------------------------------------------------------------


@dataclass
class FakeURL:
    path: str


@dataclass
class FakeRequest:
    method: str
    url: FakeURL


@dataclass
class FakeResponse:
    request: FakeRequest
    status_code: int
    body: Any
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})

    @property
    def content(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()

    def json(self) -> Any:
        return json.loads(self.content)


def test_check_accepts_any_response_shaped_object(file_object: dict[str, Any]) -> None:
    check(FakeResponse(FakeRequest("GET", FakeURL("/v1/files/file-x")), 200, file_object))
    with pytest.raises(AssertionError, match=r"\$\.bytes"):
        check(
            FakeResponse(
                FakeRequest("GET", FakeURL("/v1/files/file-x")), 200, {**file_object, "bytes": "1"}
            )
        )


def test_check_reports_invalid_json() -> None:
    response = FakeResponse(FakeRequest("GET", FakeURL("/v1/files/file-x")), 200, b"{not json")
    with pytest.raises(AssertionError, match="not valid JSON"):
        check(response)


def test_check_with_httpx_response(job: dict[str, Any]) -> None:
    request = httpx.Request("GET", "http://127.0.0.1:8000/v1/fine_tuning/jobs/ftjob-x")
    check(httpx.Response(200, json=job, request=request))
    with pytest.raises(AssertionError, match=r"\$\.status: 'bogus'"):
        check(httpx.Response(200, json={**job, "status": "bogus"}, request=request))


def test_check_with_starlette_test_client(file_object: dict[str, Any]) -> None:
    async def retrieve(request: Request) -> Response:
        if request.path_params["file_id"] == "file-missing":
            error = {
                "message": "No such File object: file-missing",
                "type": "invalid_request_error",
            }
            return JSONResponse({"error": {**error, "param": "id", "code": None}}, 404)
        return JSONResponse(file_object)

    async def content(request: Request) -> Response:
        return PlainTextResponse('{"prompt": "a", "completion": "b"}\n')

    app = Starlette(
        routes=[
            Route("/v1/files/{file_id}", retrieve),
            Route("/v1/files/{file_id}/content", content),
        ]
    )
    with TestClient(app) as client:
        check(client.get("/v1/files/file-x"))
        check(client.get("/v1/files/file-missing"))
        check(client.get("/v1/files/file-x/content"))
