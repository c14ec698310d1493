"""What the fidelity tests share: the vendored captures of the real API
(`tests/data/captures/`, see its README) and a few steps of a fine-tuning workflow.

Every expected value in `tests/fidelity/` comes from a capture, never from mockft's output.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import FIXTURES, Server

CAPTURES = Path(__file__).resolve().parent.parent / "data" / "captures"
TRAIN = FIXTURES / "train_chat.jsonl"
VALID = FIXTURES / "valid_chat.jsonl"
TERMINAL = {"succeeded", "failed", "cancelled"}


@cache
def capture(relative: str) -> Any:
    """A vendored capture, parsed (`ruby-openai/models_retrieve.json`, ...)."""
    return json.loads((CAPTURES / relative).read_text(encoding="utf-8"))


def response_of(cassette: str, index: int = 0) -> dict[str, Any]:
    """The recorded response of a ruby-openai cassette's interaction."""
    interaction: dict[str, Any] = capture(f"ruby-openai/{cassette}.json")[index]
    return interaction["response"]


def quote(key: str) -> dict[str, Any]:
    """An error answer users pasted in a public issue (`issues/errors.json`)."""
    entry: dict[str, Any] = capture("issues/errors.json")["quotes"][key]
    return entry


def upload(
    http: httpx.Client, name: str, data: bytes, purpose: str = "fine-tune"
) -> httpx.Response:
    return http.post("/files", files={"file": (name, data)}, data={"purpose": purpose})


def upload_id(http: httpx.Client, path: Path = TRAIN) -> str:
    response = upload(http, path.name, path.read_bytes())
    assert response.status_code == 200, response.text
    file_id: str = response.json()["id"]
    return file_id


def create_job(http: httpx.Client, **body: Any) -> dict[str, Any]:
    payload = {"model": "gpt-4o-mini-2024-07-18", "training_file": upload_id(http), **body}
    response = http.post("/fine_tuning/jobs", json=payload)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def finish(server: Server, http: httpx.Client, job_id: str) -> dict[str, Any]:
    """Move the manual clock until the job ends; the job as the API then shows it."""
    for _ in range(400):
        job: dict[str, Any] = http.get(f"/fine_tuning/jobs/{job_id}").json()
        if job["status"] in TERMINAL:
            return job
        server.advance(300)
    raise AssertionError(f"job {job_id} never finished")


def events(http: httpx.Client, job_id: str, **query: Any) -> dict[str, Any]:
    page: dict[str, Any] = http.get(f"/fine_tuning/jobs/{job_id}/events", params=query).json()
    return page


def json_type(value: object) -> str:
    """The JSON type of a value, for comparing shapes (an int is a number)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def assert_has_shape(
    ours: dict[str, Any], real: dict[str, Any], *, skip: tuple[str, ...] = ()
) -> None:
    """Every field the real object has, ours has too, with the same JSON type (fields the
    API added since the capture may be extra; `skip` names fields another row covers)."""
    for key, value in real.items():
        if key in skip or key.startswith("_"):
            continue
        assert key in ours, f"missing {key!r} (real: {value!r})"
        assert json_type(ours[key]) == json_type(value), (key, ours[key], value)
