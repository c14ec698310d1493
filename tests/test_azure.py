"""The Azure OpenAI flavour (issue 16): `AzureOpenAI` clients work unchanged against mockft.

In-process tests drive the paths, api-versions, credentials, shapes and deployments through
Starlette's TestClient; the SDK workflows (tests/sdk_flows/azure_workflow.py, and
tests/node/azure_workflow.mjs for the Node SDK) run against live servers over real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from mockft import cli
from mockft.app import create_app
from mockft.azure import errors, shapes, versions
from mockft.config import Settings
from mockft.pytest_plugin import MockFT
from mockft.service import Service
from tests.conftest import FIXTURES, live_server, make_settings
from tests.openapi_contract import response_violations, schema_violations
from tests.sdk_flows import azure_workflow
from tests.test_node_sdk import NODE, run_workflow

START = 1_700_000_000
KEY = "azure-key-0123456789"
V = versions.LATEST_GA
TRAIN = FIXTURES / "train_chat.jsonl"
BASE = "gpt-4o-mini-2024-07-18"
RESOURCE_NOT_FOUND = {"error": {"code": "404", "message": "Resource not found"}}
# The job fields the classic data plane writes differently (docs/fidelity.md, "Azure").
CLASSIC_JOB_DIFFERENCES = frozenset(
    {"status", "hyperparameters", "organization_id", "result_files", "integrations", "error"}
)


def make_app(tmp_path: Path | None = None, **overrides: Any) -> Starlette:
    values: dict[str, Any] = {"clock": "manual", "start_time": START, "seed": 3}
    if tmp_path is None:
        values["memory"] = True
    else:
        values["data_dir"] = tmp_path / "data"
    values.update(overrides)
    settings = Settings(**values)
    return create_app(settings, Service.open(settings))


class Azure:
    """A raw client of the app's Azure paths: the key in `api-key`, the `api-version` on
    classic paths, unless told otherwise."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.http = TestClient(app)

    @property
    def service(self) -> Service:
        service: Service = self.app.state.service
        return service

    def advance(self, seconds: float) -> None:
        self.service.clock.advance(seconds)

    def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = KEY,
        version: str | None = V,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if key is not None:
            sent["api-key"] = key
        params = dict(kwargs.pop("params", {}))
        if version is not None and not path.startswith("/openai/v1"):
            params[versions.PARAM] = version
        return self.http.request(method, path, headers=sent, params=params, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def openai(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The same app's `/v1` and control API, as the OpenAI SDK calls them."""
        headers = {"Authorization": f"Bearer {kwargs.pop('key', KEY)}"}
        return self.http.request(method, path, headers=headers, **kwargs)

    def upload(self, path: str = "/openai/files", content: bytes | None = None) -> dict[str, Any]:
        data = TRAIN.read_bytes() if content is None else content
        response = self.post(
            path, files={"file": ("train.jsonl", data)}, data={"purpose": "fine-tune"}
        )
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    def deploy(self, name: str, model: str, key: str = KEY) -> httpx.Response:
        return self.openai(
            "PUT", f"/mockft/azure/deployments/{name}", json={"model": model}, key=key
        )

    def finish(self, job_id: str) -> dict[str, Any]:
        for _ in range(1000):
            job: dict[str, Any] = self.openai("GET", f"/v1/fine_tuning/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            self.advance(30)
        raise AssertionError(f"{job_id} did not finish")

    def tuned_model(self) -> str:
        file_id = self.upload()["id"]
        job = self.post("/openai/fine_tuning/jobs", json={"model": BASE, "training_file": file_id})
        done = self.finish(job.json()["id"])
        assert done["status"] == "succeeded", done
        return str(done["fine_tuned_model"])


@contextmanager
def serve(tmp_path: Path | None = None, **overrides: Any) -> Iterator[Azure]:
    client = Azure(make_app(tmp_path, **overrides))
    with client.http:
        yield client


@pytest.fixture
def azure() -> Iterator[Azure]:
    with serve() as client:
        yield client


@pytest.fixture
def keyed() -> Iterator[Azure]:
    with serve(api_keys=(f"{KEY}=acme", "sk-globex-000000=globex")) as client:
        yield client


def _chat(prompt: str = "hello") -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": prompt}]}


def _openai_path(path: str) -> str:
    """The OpenAI operation an Azure path stands for (for the spec's response schemas)."""
    parts = path.split("/")
    if "deployments" in parts:  # /openai[/v1]/deployments/{name}/chat/completions
        return "/v1/" + "/".join(parts[parts.index("deployments") + 2 :])
    if path.startswith("/openai/v1/"):
        return path.removeprefix("/openai")
    return "/v1" + path.removeprefix("/openai")


# --- paths and api-version --------------------------------------------------------------------


CLASSIC_LISTS = ("/openai/files", "/openai/fine_tuning/jobs", "/openai/models")


@pytest.mark.parametrize("path", CLASSIC_LISTS)
@pytest.mark.parametrize("version", [None, "2099-01-01", "v1", "2023-05-15"])
def test_a_classic_route_without_a_fine_tuning_api_version_is_resource_not_found(
    azure: Azure, path: str, version: str | None
) -> None:
    # 2023-05-15 is an inference version: it has no fine-tuning operations.
    response = azure.get(path, version=version)
    assert (response.status_code, response.json()) == (404, RESOURCE_NOT_FOUND)


@pytest.mark.parametrize("path", CLASSIC_LISTS)
@pytest.mark.parametrize("version", sorted(versions.FINE_TUNING))
def test_every_fine_tuning_api_version_reaches_the_classic_routes(
    azure: Azure, path: str, version: str
) -> None:
    response = azure.get(path, version=version)
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "list"


def test_deployment_calls_take_the_inference_versions(azure: Azure) -> None:
    assert azure.deploy("mini", "gpt-4o-mini").status_code == 201
    path = "/openai/deployments/mini/chat/completions"
    assert azure.post(path, json=_chat(), version="2023-05-15").status_code == 200
    for version in (None, "2099-01-01", "2023-09-15-preview"):  # the last: fine-tuning only
        response = azure.post(path, json=_chat(), version=version)
        assert (response.status_code, response.json()) == (404, RESOURCE_NOT_FOUND)


@pytest.mark.parametrize("version", [None, "v1", "preview"])
def test_the_v1_data_plane_needs_no_api_version(azure: Azure, version: str | None) -> None:
    params = {} if version is None else {versions.PARAM: version}
    response = azure.get("/openai/v1/files", params=params)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("version", [V, "2025-04-01-preview", "latest", ""])
def test_the_v1_data_plane_refuses_any_other_api_version(azure: Azure, version: str) -> None:
    for path in ("/openai/v1/files", "/openai/v1/fine_tuning/jobs"):
        response = azure.get(path, params={versions.PARAM: version})
        assert response.status_code == 400
        assert response.json() == {
            "error": {"code": "BadRequest", "message": "API version not supported"}
        }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/openai"),
        ("GET", "/openai/nowhere"),
        ("PUT", "/openai/files"),
        ("DELETE", "/openai/fine_tuning/jobs"),
        ("POST", "/openai/chat/completions"),  # classic calls go through a deployment
        ("GET", "/openai/deployments/mini/chat/completions"),
        ("GET", "/openai/v1/nowhere"),
    ],
)
def test_unknown_paths_and_methods_under_openai_are_resource_not_found(
    azure: Azure, method: str, path: str
) -> None:
    response = azure.request(method, path)
    assert (response.status_code, response.json()) == (404, RESOURCE_NOT_FOUND)


def test_the_operation_is_found_before_credentials_are_checked(keyed: Azure) -> None:
    assert keyed.get("/openai/files", key=None, version=None).status_code == 404
    assert keyed.get("/openai/files", key=None).status_code == 401


# --- credentials ------------------------------------------------------------------------------


def test_any_key_or_token_is_accepted_when_no_keys_are_configured(azure: Azure) -> None:
    assert azure.get("/openai/files", key="anything").status_code == 200
    bearer = {"Authorization": "Bearer eyJhbGciOi.entra.token"}
    assert azure.get("/openai/files", key=None, headers=bearer).status_code == 200
    assert azure.get("/openai/v1/files", key=None, headers=bearer).status_code == 200


@pytest.mark.parametrize(
    "headers", [{}, {"api-key": ""}, {"Authorization": "Bearer "}, {"Authorization": "Basic eA=="}]
)
def test_no_usable_credential_is_401_in_azure_words(azure: Azure, headers: dict[str, str]) -> None:
    response = azure.get("/openai/files", key=None, headers=headers)
    assert response.status_code == 401
    body = response.json()
    if headers.get("Authorization"):
        assert body == {"statusCode": 401, "message": errors.TOKEN_REJECTED}
    else:
        assert body == {"error": {"code": "401", "message": errors.ACCESS_DENIED}}


def test_configured_keys_work_in_either_header_and_nothing_else_does(keyed: Azure) -> None:
    assert keyed.get("/openai/files").status_code == 200
    bearer_key = {"Authorization": f"Bearer {KEY}"}
    assert keyed.get("/openai/files", key=None, headers=bearer_key).status_code == 200

    wrong_key = keyed.get("/openai/files", key="not-a-key-123")
    assert wrong_key.status_code == 401
    assert wrong_key.json() == {"error": {"code": "401", "message": errors.ACCESS_DENIED}}
    token = keyed.get("/openai/v1/files", key=None, headers={"Authorization": "Bearer eyJ.x.y"})
    assert token.status_code == 401
    assert token.json() == {"statusCode": 401, "message": errors.TOKEN_REJECTED}
    # openai 1.x sends the key in both headers: the api-key header is the one that counts.
    both = keyed.get("/openai/files", headers={"Authorization": "Bearer eyJ.x.y"})
    assert both.status_code == 200


def test_objects_belong_to_the_organization_of_the_key(keyed: Azure) -> None:
    file_id = keyed.upload()["id"]
    other = "sk-globex-000000"
    assert keyed.get(f"/openai/files/{file_id}").status_code == 200
    hidden = keyed.get(f"/openai/files/{file_id}", key=other)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["message"] == f"No such File object: {file_id}"
    assert keyed.get("/openai/v1/files", key=other).json()["data"] == []
    assert keyed.openai("GET", f"/v1/files/{file_id}", key=other).status_code == 404


# --- Azure's view of the objects --------------------------------------------------------------


def test_an_upload_is_pending_until_imported_then_processed(azure: Azure) -> None:
    created = azure.post(
        "/openai/files",
        files={"file": ("t.jsonl", TRAIN.read_bytes())},
        data={"purpose": "fine-tune"},
    )
    assert created.status_code == 201
    file = created.json()
    assert created.headers["location"] == f"http://testserver/openai/files/{file['id']}"
    assert file["status"] == "pending"
    ready = shapes.import_seconds(file["bytes"])
    azure.advance(ready - 1)
    assert azure.get(f"/openai/files/{file['id']}").json()["status"] == "pending"
    assert azure.get("/openai/v1/files").json()["data"][0]["status"] == "pending"
    assert azure.openai("GET", f"/v1/files/{file['id']}").json()["status"] == "processed"
    azure.advance(1)
    assert azure.get(f"/openai/files/{file['id']}").json()["status"] == "processed"
    assert azure.get("/openai/files").json()["data"][0]["status"] == "processed"
    gone = azure.request("DELETE", f"/openai/files/{file['id']}").json()
    assert gone == {"object": "file", "id": file["id"], "deleted": True}


def test_the_import_takes_longer_for_bigger_files() -> None:
    small, big = shapes.import_seconds(1), shapes.import_seconds(50_000_000)
    assert small == shapes.IMPORT_BASE_SECONDS and big == small + 50
    file = {"purpose": "fine-tune", "created_at": 100, "bytes": 50_000_000}
    assert shapes.file_status(file, 100 + big - 1) == "pending"
    assert shapes.file_status(file, 100 + big) == "processed"
    assert shapes.file_status({**file, "purpose": "fine-tune-results"}, 100) == "processed"


def test_a_completed_upload_reads_its_file_as_pending(azure: Azure) -> None:
    data = TRAIN.read_bytes()
    upload = azure.post(
        "/openai/uploads",
        json={
            "bytes": len(data),
            "filename": "u.jsonl",
            "mime_type": "text/jsonl",
            "purpose": "fine-tune",
        },
    ).json()
    part = azure.post(f"/openai/uploads/{upload['id']}/parts", files={"data": ("p", data)}).json()
    done = azure.post(f"/openai/uploads/{upload['id']}/complete", json={"part_ids": [part["id"]]})
    assert done.json()["status"] == "completed"
    assert done.json()["file"]["status"] == "pending"


def test_a_classic_job_reads_as_azure_writes_it_and_is_the_same_job(azure: Azure) -> None:
    file_id = azure.upload()["id"]
    created = azure.post(
        "/openai/fine_tuning/jobs", json={"model": BASE, "training_file": file_id, "seed": 7}
    )
    assert created.status_code == 201
    job = created.json()
    assert created.headers["location"] == f"http://testserver/openai/fine_tuning/jobs/{job['id']}"
    assert job["status"] == "pending"
    assert job["hyperparameters"] == {
        "n_epochs": -1,
        "batch_size": -1,
        "learning_rate_multiplier": 1,
    }
    assert (job["organization_id"], job["result_files"], job["integrations"]) == (None, None, None)
    _check_differences(azure, job)

    azure.advance(60)  # out of validation, into the queue: still "pending" on Azure
    assert azure.openai("GET", f"/v1/fine_tuning/jobs/{job['id']}").json()["status"] == "queued"
    assert azure.get(f"/openai/fine_tuning/jobs/{job['id']}").json()["status"] == "pending"

    done = azure.finish(job["id"])
    seen = azure.get(f"/openai/fine_tuning/jobs/{job['id']}").json()
    assert seen["status"] == "succeeded" and seen["result_files"] == done["result_files"]
    assert seen["hyperparameters"] == done["hyperparameters"]
    _check_differences(azure, seen)
    listed = azure.get("/openai/fine_tuning/jobs").json()["data"]
    assert [j["id"] for j in listed] == [job["id"]] and listed[0]["organization_id"] is None


def _check_differences(azure: Azure, job: dict[str, Any]) -> None:
    """Only the documented fields differ from the /v1 view, and with those put back the
    job is OpenAI's FineTuningJob."""
    openai_view = azure.openai("GET", f"/v1/fine_tuning/jobs/{job['id']}").json()
    assert job.keys() == openai_view.keys()
    differing = {k for k in job if job[k] != openai_view[k]}
    assert differing <= CLASSIC_JOB_DIFFERENCES, differing
    restored = {**job, **{k: openai_view[k] for k in CLASSIC_JOB_DIFFERENCES}}
    assert schema_violations("FineTuningJob", restored) == []


def test_the_v1_data_plane_answers_in_openai_shapes(azure: Azure) -> None:
    file = azure.upload("/openai/v1/files")
    azure.advance(shapes.import_seconds(file["bytes"]))
    created = azure.post(
        "/openai/v1/fine_tuning/jobs", json={"model": BASE, "training_file": file["id"]}
    )
    assert created.status_code == 200
    job = created.json()
    assert job == azure.openai("GET", f"/v1/fine_tuning/jobs/{job['id']}").json()
    assert job["status"] == "validating_files"
    azure.finish(job["id"])
    calls = [
        ("GET", "/openai/v1/files", {}),
        ("GET", f"/openai/v1/files/{file['id']}", {}),
        ("GET", f"/openai/v1/fine_tuning/jobs/{job['id']}", {}),
        ("GET", "/openai/v1/fine_tuning/jobs", {}),
        ("GET", f"/openai/v1/fine_tuning/jobs/{job['id']}/events", {}),
        ("GET", f"/openai/v1/fine_tuning/jobs/{job['id']}/checkpoints", {}),
        ("GET", "/openai/v1/models", {}),
        ("POST", "/openai/v1/chat/completions", {"json": {"model": "mini", **_chat()}}),
    ]
    assert azure.deploy("mini", "gpt-4o-mini").status_code == 201
    for method, path, kwargs in calls:
        response = azure.request(method, path, **kwargs)
        found = response_violations(
            method, _openai_path(path), response.status_code, response.json()
        )
        assert found == [], (path, found)


def test_classic_responses_validate_where_azure_equals_openai(azure: Azure) -> None:
    model = azure.tuned_model()
    job_id = azure.get("/openai/fine_tuning/jobs").json()["data"][0]["id"]
    assert azure.deploy("marv", model).status_code == 201
    calls = [
        ("GET", f"/openai/fine_tuning/jobs/{job_id}/events", {}),
        ("GET", f"/openai/fine_tuning/jobs/{job_id}/checkpoints", {}),
        ("GET", f"/openai/models/{model}", {}),
        ("GET", "/openai/models", {}),
        ("POST", "/openai/deployments/marv/chat/completions", {"json": _chat()}),
        # (/completions of a chat model is Azure's own 400 OperationNotSupported)
    ]
    for method, path, kwargs in calls:
        response = azure.request(method, path, **kwargs)
        found = response_violations(
            method, _openai_path(path), response.status_code, response.json()
        )
        assert found == [], (path, found)


def test_errors_of_the_service_underneath_keep_openais_envelope(azure: Azure) -> None:
    response = azure.get("/openai/fine_tuning/jobs/ftjob-nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "fine_tune_not_found"
    bad = azure.post("/openai/fine_tuning/jobs", json={"model": BASE})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "training_file"


def test_a_job_made_on_v1_is_the_same_job_through_azure(azure: Azure) -> None:
    file_id = azure.openai(
        "POST",
        "/v1/files",
        files={"file": ("t.jsonl", TRAIN.read_bytes())},
        data={"purpose": "fine-tune"},
    ).json()["id"]
    job = azure.openai(
        "POST", "/v1/fine_tuning/jobs", json={"model": BASE, "training_file": file_id}
    )
    job_id = job.json()["id"]
    cancelled = azure.post(f"/openai/fine_tuning/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert azure.openai("GET", f"/v1/fine_tuning/jobs/{job_id}").json()["status"] == "cancelled"


# --- deployments ------------------------------------------------------------------------------


def test_the_deployment_stand_in_makes_reads_lists_and_deletes(azure: Azure) -> None:
    made = azure.deploy("mini", "gpt-4o-mini")
    assert made.status_code == 201
    assert made.json() == {
        "object": "azure.deployment",
        "id": "mini",
        "model": "gpt-4o-mini",
        "created_at": START,
    }
    moved = azure.deploy("mini", "gpt-4.1-mini")
    assert (moved.status_code, moved.json()["model"]) == (200, "gpt-4.1-mini")
    azure.deploy("babbage", "babbage-002")
    listed = azure.openai("GET", "/mockft/azure/deployments").json()
    assert [(d["id"], d["model"]) for d in listed["data"]] == [
        ("mini", "gpt-4.1-mini"),
        ("babbage", "babbage-002"),
    ]
    assert azure.openai("GET", "/mockft/azure/deployments/mini").json()["model"] == "gpt-4.1-mini"
    gone = azure.openai("DELETE", "/mockft/azure/deployments/mini")
    assert gone.json() == {"object": "azure.deployment", "id": "mini", "deleted": True}
    missing = azure.openai("GET", "/mockft/azure/deployments/mini")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "DeploymentNotFound"
    assert azure.openai("DELETE", "/mockft/azure/deployments/mini").status_code == 404
    call = azure.post("/openai/deployments/mini/chat/completions", json=_chat())
    assert call.status_code == 404 and call.json()["error"]["code"] == "DeploymentNotFound"
    assert azure.deploy("mini", "gpt-4o-mini").status_code == 201  # the name is free again


def test_a_deployment_needs_a_model_the_organization_may_call_and_a_valid_name(
    keyed: Azure,
) -> None:
    unknown = keyed.deploy("x", "ft:gpt-4o-mini-2024-07-18:acme::nope")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "model_not_found")
    bad_name = keyed.deploy("-x", "gpt-4o-mini")
    assert (bad_name.status_code, bad_name.json()["error"]["param"]) == (400, "name")
    empty = keyed.openai("PUT", "/mockft/azure/deployments/x", json={"model": ""})
    assert empty.status_code == 400
    model = keyed.tuned_model()
    assert keyed.deploy("marv", model, key="sk-globex-000000").status_code == 404
    assert keyed.deploy("marv", model).status_code == 201
    other = keyed.post(
        "/openai/deployments/marv/chat/completions", json=_chat(), key="sk-globex-000000"
    )
    assert other.status_code == 404 and other.json()["error"]["code"] == "DeploymentNotFound"
    assert (
        keyed.openai("GET", "/mockft/azure/deployments", key="sk-globex-000000").json()["data"]
        == []
    )


def test_calls_through_a_deployment_reach_its_model(azure: Azure) -> None:
    model = azure.tuned_model()
    assert azure.deploy("marv", model).status_code == 201
    assert azure.deploy("legacy", "babbage-002").status_code == 201
    prompt, reply = azure_workflow.trained_pair(TRAIN)
    for path, body in [
        ("/openai/deployments/marv/chat/completions", _chat(prompt)),
        ("/openai/deployments/marv/chat/completions", {"model": "ignored", **_chat(prompt)}),
        ("/openai/v1/deployments/marv/chat/completions", _chat(prompt)),
        ("/openai/v1/chat/completions", {"model": "marv", **_chat(prompt)}),
    ]:
        answer = azure.post(path, json=body)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json()["model"] == model
        assert answer.json()["choices"][0]["message"]["content"] == reply
    completion = azure.post("/openai/deployments/legacy/completions", json={"prompt": "Say hi"})
    assert completion.json()["model"] == "babbage-002"
    assert completion.json()["object"] == "text_completion"
    stream = azure.post(
        "/openai/v1/chat/completions", json={"model": "marv", "stream": True, **_chat(prompt)}
    )
    assert stream.headers["content-type"].startswith("text/event-stream")
    pieces = [
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in stream.text.splitlines()
        if line.startswith("data: {")
    ]
    assert "".join(pieces) == reply


def test_a_call_to_an_unknown_deployment_is_deployment_not_found(azure: Azure) -> None:
    for path, body in [
        ("/openai/deployments/nope/chat/completions", _chat()),
        ("/openai/deployments/nope/completions", {"prompt": "x"}),
        ("/openai/v1/chat/completions", {"model": "nope", **_chat()}),
        ("/openai/v1/deployments/nope/chat/completions", _chat()),
        ("/openai/v1/chat/completions", {"model": "gpt-4o-mini", **_chat()}),  # no auto-deploy
    ]:
        response = azure.post(path, json=body)
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "DeploymentNotFound", "message": errors.DEPLOYMENT_NOT_FOUND}
        }


def test_a_deployment_call_with_a_bad_body_answers_as_the_endpoint_does(azure: Azure) -> None:
    azure.deploy("mini", "gpt-4o-mini")
    bad_json = azure.post("/openai/deployments/mini/chat/completions", content=b"{nope")
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["message"].startswith("We could not parse the JSON body")
    for raw in (b'{"model": "\\ud800"}', b'{"model": "mini", "n": NaN}'):  # strict JSON
        odd = azure.post("/openai/v1/chat/completions", content=raw)
        assert odd.status_code == 400, raw
        assert odd.json()["error"]["message"].startswith("We could not parse the JSON body")
    no_model = azure.post("/openai/v1/chat/completions", json=_chat())
    assert no_model.status_code == 400 and no_model.json()["error"]["param"] == "model"
    no_messages = azure.post("/openai/deployments/mini/chat/completions", json={})
    assert no_messages.status_code == 400 and no_messages.json()["error"]["param"] == "messages"


def test_auto_deploy_makes_a_deployment_of_every_model_named_like_it() -> None:
    with serve(azure_auto_deploy=True) as azure:
        model = azure.tuned_model()
        # the answer names the snapshot that answered (docs/fidelity.md, "Chat and completions")
        for name, answers_as in (("gpt-4o-mini", "gpt-4o-mini-2024-07-18"), (model, model)):
            response = azure.post(f"/openai/deployments/{name}/chat/completions", json=_chat())
            assert (response.status_code, response.json()["model"]) == (200, answers_as)
            v1 = azure.post("/openai/v1/chat/completions", json={"model": name, **_chat()})
            assert v1.status_code == 200
        unknown = azure.post("/openai/v1/chat/completions", json={"model": "nope", **_chat()})
        assert unknown.json()["error"]["code"] == "DeploymentNotFound"
        azure.deploy("gpt-4o-mini", "babbage-002")  # a made deployment wins over the name
        call = azure.post("/openai/deployments/gpt-4o-mini/completions", json={"prompt": "x"})
        assert call.json()["model"] == "babbage-002"


def test_deployments_survive_a_restart(tmp_path: Path) -> None:
    with serve(tmp_path) as first:
        assert first.deploy("mini", "gpt-4o-mini").status_code == 201
    with serve(tmp_path) as again:
        assert (
            again.openai("GET", "/mockft/azure/deployments/mini").json()["model"] == "gpt-4o-mini"
        )
        assert (
            again.post("/openai/deployments/mini/chat/completions", json=_chat()).status_code == 200
        )


def test_a_reset_forgets_deployments(azure: Azure) -> None:
    azure.deploy("mini", "gpt-4o-mini")
    assert azure.openai("POST", "/mockft/reset").status_code == 200
    assert azure.openai("GET", "/mockft/azure/deployments").json()["data"] == []


def test_the_flag_and_the_environment_turn_on_auto_deploy() -> None:
    assert Settings().azure_auto_deploy is False
    assert Settings.from_env({"MOCKFT_AZURE_AUTO_DEPLOY": "yes"}).azure_auto_deploy is True
    assert Settings.from_env({"MOCKFT_AZURE_AUTO_DEPLOY": "0"}).azure_auto_deploy is False
    args = cli._parser().parse_args(["serve", "--azure-auto-deploy"])
    assert cli._settings(args).azure_auto_deploy is True
    assert cli._settings(cli._parser().parse_args(["serve"])).azure_auto_deploy is False


# --- the SDKs, unchanged ----------------------------------------------------------------------


@pytest.mark.parametrize("config", azure_workflow.CONFIGS)
def test_the_python_sdk_workflow(tmp_path: Path, config: str) -> None:
    # Keys configured (so the key is checked in whichever header carries it), except for the
    # Entra token, which is accepted only while no keys are configured.
    keys = () if config == "entra" else (azure_workflow.API_KEY,)
    with live_server(make_settings(tmp_path, api_keys=keys)) as live:
        summary = azure_workflow.run(live.root_url, config)
    assert summary["steps"] == [
        "files",
        "job",
        "events",
        "checkpoints",
        "results",
        "model",
        "chat",
        "same-job",
    ]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("config", ["key", "entra", "v1"])
def test_the_node_sdk_azure_workflow(tmp_path: Path, config: str) -> None:
    with live_server(make_settings(tmp_path)) as live:
        summary = run_workflow(
            "azure_workflow.mjs",
            MOCKFT_ROOT=live.root_url,
            MOCKFT_TRAIN=str(TRAIN),
            MOCKFT_AZURE_CONFIG=config,
        )
    assert summary == {"config": config, "steps": ["files", "job", "results", "chat"], "ok": True}


def test_the_pytest_plugin_gives_an_azure_client(mockft: MockFT) -> None:
    client = mockft.azure_openai()
    uploaded = client.files.create(file=("t.jsonl", TRAIN.read_bytes()), purpose="fine-tune")
    assert uploaded.status == "pending"
    mockft.advance(shapes.import_seconds(uploaded.bytes))
    assert client.files.retrieve(uploaded.id).status == "processed"
    job = client.fine_tuning.jobs.create(model=BASE, training_file=uploaded.id)
    assert job.status == "pending"
    done = mockft.run_until_done(job.id)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"
    put = mockft.http_client().put(
        "/mockft/azure/deployments/marv", json={"model": done.fine_tuned_model}
    )
    assert put.status_code == 201
    prompt, reply = azure_workflow.trained_pair(TRAIN)
    entra = mockft.azure_openai(azure_ad_token="entra-token")
    answer = entra.chat.completions.create(
        model="marv", messages=[{"role": "user", "content": prompt}]
    )
    assert answer.choices[0].message.content == reply


def test_a_client_bound_to_one_deployment_reaches_the_rest_of_the_api(mockft: MockFT) -> None:
    """`AzureOpenAI(azure_deployment=...)`: calls go to that deployment, everything else to
    the resource's classic paths."""
    mockft.http_client().put("/mockft/azure/deployments/mini", json={"model": "gpt-4o-mini"})
    client = mockft.azure_openai(azure_deployment="mini")
    answer = client.chat.completions.create(
        model="ignored", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.model == "gpt-4o-mini-2024-07-18"  # the alias's snapshot answers
    assert client.files.list().data == []
    assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
