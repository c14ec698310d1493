"""Spec conformance over a whole scenario: every implemented operation, through raw HTTP and
through the unchanged official SDK, successes and errors alike. Every JSON request body the
server accepts and every response we get is checked against OpenAI's OpenAPI description
(`tests.openapi_contract`); violations are collected over the whole scenario, not stopped at
the first, and the test asserts there are none, and that every operation was exercised."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import API_KEY, FIXTURES, Server, raw_http
from tests.openapi_contract import (
    UnknownOperationError,
    operation_for,
    request_violations,
    response_violations,
)

IMPLEMENTED = frozenset(
    {
        "listFiles",
        "createFile",
        "retrieveFile",
        "deleteFile",
        "downloadFile",
        "createUpload",
        "addUploadPart",
        "completeUpload",
        "cancelUpload",
        "createFineTuningJob",
        "listPaginatedFineTuningJobs",
        "retrieveFineTuningJob",
        "cancelFineTuningJob",
        "pauseFineTuningJob",
        "resumeFineTuningJob",
        "listFineTuningEvents",
        "listFineTuningJobCheckpoints",
        "listModels",
        "retrieveModel",
        "deleteModel",
    }
)
TRAIN = FIXTURES / "train_chat.jsonl"
VALID = FIXTURES / "valid_chat.jsonl"
FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


def _strict_json(content: bytes) -> Any:
    def reject(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(content, parse_constant=reject)


@dataclass
class Recorder:
    """Collects, per client, which operations ran and every violation seen."""

    seen: dict[str, set[str]] = field(default_factory=dict)
    statuses: dict[str, set[int]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    responses: int = 0

    def hook(self, client: str) -> Callable[[Any], None]:
        def on_response(response: Any) -> None:
            response.read()
            self.responses += 1
            request = response.request
            method, url = request.method, str(request.url)
            where = f"[{client}] {method} {request.url.path} -> {response.status_code}"
            try:
                operation = operation_for(method, request.url.path)
            except UnknownOperationError as error:
                self.violations.append(f"{where}: {error}")
                return
            self.seen.setdefault(client, set()).add(operation.operation_id)
            self.statuses.setdefault(operation.operation_id, set()).add(response.status_code)
            content_type = response.headers.get("content-type")
            request_type = request.headers.get("content-type", "")
            accepted = response.status_code < 400  # a request we accept must be spec-valid
            if accepted and request_type.startswith("application/json") and request.content:
                try:
                    sent = _strict_json(request.content)
                except ValueError as error:
                    self.violations.append(f"{where}: request body: {error}")
                else:
                    self.violations += [
                        f"{where}: request: {v}"
                        for v in request_violations(method, request.url.path, sent)
                    ]
            body: Any = response.content
            if content_type is None or "json" in content_type:
                try:
                    body = _strict_json(response.content)
                except ValueError as error:
                    self.violations.append(f"{where}: response body: {error}")
                    return
            self.violations += [
                f"{where}: {v}"
                for v in response_violations(method, url, response.status_code, body, content_type)
            ]
            for header in ("x-request-id", "openai-organization", "openai-version"):
                if header not in response.headers:
                    self.violations.append(f"{where}: missing header {header}")

        return on_response


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def raw(server: Server, recorder: Recorder) -> Iterator[httpx.Client]:
    with raw_http(
        server, API_KEY, event_hooks={"response": [recorder.hook("http")]}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def sdk(server: Server, recorder: Recorder) -> Iterator[openai.OpenAI]:
    http_client = server.http_client(event_hooks={"response": [recorder.hook("sdk")]})
    client = server.openai(api_key=API_KEY, max_retries=0, http_client=http_client)
    yield client
    client.close()


def run_until(server: Server, status: Callable[[], str], wanted: set[str]) -> str:
    for _ in range(2000):
        current = status()
        if current in wanted:
            return current
        server.advance(5)
    raise AssertionError(f"never reached {wanted}")


def raw_scenario(http: httpx.Client, server: Server) -> None:
    train = TRAIN.read_bytes()
    # files: every purpose, with and without expiry; list variants; content; delete
    file_ids = {}
    for purpose in FILE_PURPOSES:
        name = "train.jsonl" if purpose == "fine-tune" else f"{purpose}.jsonl"
        response = http.post("/files", files={"file": (name, train)}, data={"purpose": purpose})
        assert response.status_code == 200, response.text
        file_ids[purpose] = response.json()["id"]
    expiring = http.post(
        "/files",
        files={"file": ("e.jsonl", train)},
        data={
            "purpose": "user_data",
            "expires_after[anchor]": "created_at",
            "expires_after[seconds]": "3600",
        },
    ).json()["id"]
    validation = http.post(
        "/files", files={"file": ("v.jsonl", VALID.read_bytes())}, data={"purpose": "fine-tune"}
    ).json()["id"]
    for params in (
        {},
        {"limit": 2},
        {"order": "asc"},
        {"purpose": "fine-tune"},
        {"purpose": "nothing-has-it"},
        {"after": file_ids["batch"], "limit": 1},
    ):
        assert http.get("/files", params=params).status_code == 200
    assert http.get(f"/files/{expiring}").status_code == 200
    assert http.get(f"/files/{file_ids['fine-tune']}/content").content == train
    assert http.delete(f"/files/{file_ids['assistants']}").json()["deleted"] is True
    for method, path in (
        ("GET", f"/files/{file_ids['assistants']}"),
        ("DELETE", f"/files/{file_ids['assistants']}"),
        ("GET", "/files/file-nope/content"),
    ):
        assert http.request(method, path).status_code == 404
    assert http.get("/files", params={"limit": 0}).status_code == 400
    assert http.post("/files", data={"purpose": "fine-tune"}).status_code == 400

    # uploads: complete (with md5), cancel, and the errors around them
    parts = [train[:1000], train[1000:2500], train[2500:]]
    upload = http.post(
        "/uploads",
        json={
            "filename": "up.jsonl",
            "purpose": "fine-tune",
            "bytes": len(train),
            "mime_type": "text/jsonl",
        },
    ).json()["id"]
    part_ids = [
        http.post(f"/uploads/{upload}/parts", files={"data": ("blob", p)}).json()["id"]
        for p in parts
    ]
    completed = http.post(
        f"/uploads/{upload}/complete",
        json={"part_ids": part_ids, "md5": hashlib.md5(train).hexdigest()},
    )
    assert completed.json()["status"] == "completed"
    assert http.post(f"/uploads/{upload}/cancel").status_code == 400
    other = http.post(
        "/uploads",
        json={"filename": "x.jsonl", "purpose": "batch", "bytes": 5, "mime_type": "text/jsonl"},
    ).json()["id"]
    assert http.post(f"/uploads/{other}/complete", json={"part_ids": []}).status_code == 400
    assert http.post(f"/uploads/{other}/cancel").json()["status"] == "cancelled"
    assert http.post("/uploads/upload_nope/parts", files={"data": ("b", b"x")}).status_code == 404
    assert http.post("/uploads", json={"filename": "x"}).status_code == 400

    # jobs: one to success (with validation file, metadata, method), one cancelled,
    # one paused and resumed, one failing validation; lists, events, checkpoints
    training = file_ids["fine-tune"]
    done = http.post(
        "/fine_tuning/jobs",
        json={
            "model": "gpt-4o-mini",
            "training_file": training,
            "validation_file": validation,
            "suffix": "conf",
            "seed": 42,
            "metadata": {"team": "conformance"},
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
        },
    ).json()["id"]
    cancelled = http.post(
        "/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": training}
    ).json()["id"]
    paused = http.post(
        "/fine_tuning/jobs",
        json={
            "model": "gpt-4o-mini",
            "training_file": training,
            "hyperparameters": {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 0.5},
        },
    ).json()["id"]
    too_few = http.post(
        "/files",
        files={"file": ("few.jsonl", (FIXTURES / "bad" / "too_few.jsonl").read_bytes())},
        data={"purpose": "fine-tune"},
    ).json()["id"]
    failing = http.post(
        "/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": too_few}
    ).json()["id"]
    assert http.post(f"/fine_tuning/jobs/{cancelled}/cancel").json()["status"] == "cancelled"
    assert http.post(f"/fine_tuning/jobs/{paused}/pause").status_code == 400  # validating

    def status(job: str) -> Callable[[], str]:
        return lambda: str(http.get(f"/fine_tuning/jobs/{job}").json()["status"])

    run_until(server, status(paused), {"running"})
    assert http.post(f"/fine_tuning/jobs/{paused}/pause").json()["status"] == "paused"
    assert http.get(f"/fine_tuning/jobs/{paused}/events").status_code == 200
    assert http.post(f"/fine_tuning/jobs/{paused}/resume").json()["status"] == "running"
    assert run_until(server, status(done), {"succeeded", "failed"}) == "succeeded"
    assert run_until(server, status(paused), {"succeeded", "failed"}) == "succeeded"
    assert run_until(server, status(failing), {"succeeded", "failed"}) == "failed"
    for job in (done, cancelled, paused, failing):
        for params in ({}, {"limit": 3}):
            assert http.get(f"/fine_tuning/jobs/{job}/events", params=params).status_code == 200
            assert http.get(f"/fine_tuning/jobs/{job}/checkpoints", params=params).is_success
    for params in (
        {},
        {"limit": 2},
        {"after": done},
        {"metadata[team]": "conformance"},
        {"metadata[team]": "nobody"},
    ):
        assert http.get("/fine_tuning/jobs", params=params).status_code == 200
    events = http.get(f"/fine_tuning/jobs/{done}/events", params={"limit": 2}).json()
    assert http.get(
        f"/fine_tuning/jobs/{done}/events", params={"after": events["data"][-1]["id"]}
    ).is_success
    checkpoints = http.get(f"/fine_tuning/jobs/{done}/checkpoints").json()["data"]
    assert http.get(
        f"/fine_tuning/jobs/{done}/checkpoints", params={"after": checkpoints[0]["id"]}
    ).is_success
    result = http.get(f"/fine_tuning/jobs/{done}").json()["result_files"][0]
    assert http.get(f"/files/{result}").json()["purpose"] == "fine-tune-results"
    assert http.get(f"/files/{result}/content").status_code == 200
    for kind in ("cancel", "pause", "resume"):
        assert http.post(f"/fine_tuning/jobs/{done}/{kind}").status_code == 400
        assert http.post(f"/fine_tuning/jobs/ftjob-nope/{kind}").status_code == 404
    for path in ("", "/events", "/checkpoints"):
        assert http.get(f"/fine_tuning/jobs/ftjob-nope{path}").status_code == 404
    for body in (
        {"model": "gpt-4o-mini"},
        {"model": "no-such-model", "training_file": training},
        {"model": "gpt-4o-mini", "training_file": file_ids["batch"]},
        {"model": "gpt-4o-mini", "training_file": training, "suffix": "x" * 65},
    ):
        assert http.post("/fine_tuning/jobs", json=body).status_code == 400

    # models: the catalog, the fine-tuned model and a checkpoint model; then delete
    tuned = http.get(f"/fine_tuning/jobs/{done}").json()["fine_tuned_model"]
    checkpoint_model = checkpoints[-1]["fine_tuned_model_checkpoint"]
    assert http.get("/models").status_code == 200
    for model in ("gpt-4o-mini", tuned, checkpoint_model):
        assert http.get(f"/models/{model}").status_code == 200
    # a fine-tuned model can be tuned further
    again = http.post("/fine_tuning/jobs", json={"model": tuned, "training_file": training})
    assert again.status_code == 200
    assert http.delete(f"/models/{checkpoint_model}").json()["deleted"] is True
    assert http.get(f"/models/{checkpoint_model}").status_code == 404
    assert http.delete("/models/gpt-4o-mini").status_code == 403
    assert http.delete("/models/ft:nope").status_code == 404


def sdk_scenario(client: openai.OpenAI, server: Server) -> None:
    train = TRAIN.read_bytes()
    files = [
        client.files.create(file=(f"s{i}.jsonl", io.BytesIO(train)), purpose="fine-tune")
        for i in range(3)
    ]
    mine = {f.id for f in files}
    walked = [f.id for f in client.files.list(limit=1) if f.id in mine]  # the SDK pages
    assert walked == [f.id for f in reversed(files)]
    assert list(client.files.list(order="asc", purpose="fine-tune"))
    assert client.files.retrieve(files[0].id).bytes == len(train)
    assert client.files.content(files[0].id).content == train
    assert client.files.delete(files[2].id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(files[2].id)

    chunked = client.uploads.upload_file_chunked(
        file=train,
        filename="chunked.jsonl",
        bytes=len(train),
        mime_type="text/jsonl",
        purpose="fine-tune",
        part_size=1024,
    )
    assert chunked.status == "completed"
    cancelled_upload = client.uploads.create(
        filename="c.jsonl", purpose="fine-tune", bytes=10, mime_type="text/jsonl"
    )
    client.uploads.parts.create(cancelled_upload.id, data=b"0123456789")
    assert client.uploads.cancel(cancelled_upload.id).status == "cancelled"
    manual = client.uploads.create(
        filename="m.jsonl", purpose="fine-tune", bytes=len(train), mime_type="text/jsonl"
    )
    part = client.uploads.parts.create(manual.id, data=train)
    assert client.uploads.complete(manual.id, part_ids=[part.id]).status == "completed"

    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=files[0].id, suffix="sdk", metadata={"via": "sdk"}
    )
    to_cancel = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=files[1].id)
    assert client.fine_tuning.jobs.cancel(to_cancel.id).status == "cancelled"
    run_until(server, lambda: client.fine_tuning.jobs.retrieve(job.id).status, {"running"})
    assert client.fine_tuning.jobs.pause(job.id).status == "paused"
    assert client.fine_tuning.jobs.resume(job.id).status == "running"
    status = run_until(
        server, lambda: client.fine_tuning.jobs.retrieve(job.id).status, {"succeeded", "failed"}
    )
    assert status == "succeeded"
    assert {j.id for j in client.fine_tuning.jobs.list(limit=1)} >= {job.id, to_cancel.id}
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"via": "sdk"})] == [job.id]
    assert len(list(client.fine_tuning.jobs.list_events(job.id, limit=5))) > 5
    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.id, limit=1))
    assert len(checkpoints) == 3
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.fine_tuned_model is not None
    assert any(m.id == done.fine_tuned_model for m in client.models.list())
    assert client.models.retrieve(done.fine_tuned_model).id == done.fine_tuned_model
    assert client.models.delete(done.fine_tuned_model).deleted
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(done.fine_tuned_model)
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-nope")


def test_scenario_has_no_spec_violations(
    raw: httpx.Client, sdk: openai.OpenAI, server: Server, recorder: Recorder
) -> None:
    raw_scenario(raw, server)
    sdk_scenario(sdk, server)
    assert recorder.responses > 150
    for client in ("http", "sdk"):
        missing = IMPLEMENTED - recorder.seen.get(client, set())
        assert not missing, f"{client} never called {sorted(missing)}"
    errors_seen = {op for op, codes in recorder.statuses.items() if any(c >= 400 for c in codes)}
    assert len(errors_seen) >= 15, sorted(IMPLEMENTED - errors_seen)
    assert not recorder.violations, (
        f"{len(recorder.violations)} spec violations over {recorder.responses} responses:\n"
        + "\n".join(recorder.violations[:50])
    )


def test_recorder_reports_violations(raw: httpx.Client, recorder: Recorder) -> None:
    """The collector is not vacuous: a response that breaks the spec is reported (a forged
    body passed through the hook), and collection goes on after it."""

    request = httpx.Request("GET", raw.base_url.join("files/file-x"))
    forged = httpx.Response(200, json={"object": "file", "id": 7}, request=request)
    recorder.hook("forged")(forged)
    broken_error = httpx.Response(404, json={"error": {"message": "x"}}, request=request)
    recorder.hook("forged")(broken_error)
    assert len(recorder.violations) >= 2
    assert any("$.id" in v for v in recorder.violations)
    assert any("exactly the keys" in v for v in recorder.violations)
