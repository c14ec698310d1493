"""What the tests of W&B, limits, continued fine-tuning and vision data share: an SDK client
whose every response is checked against the OpenAPI description, uploads, and moving the
manual clock until a job gets somewhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
from openai.types.fine_tuning import FineTuningJob

from tests import conftest
from tests.conftest import API_KEY, FIXTURES, Server

TRAIN = FIXTURES / "train_chat.jsonl"
MODEL = "gpt-4o-mini"
SNAPSHOT = "gpt-4o-mini-2024-07-18"
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
MAX_MOVES = 2_000


def checked_sdk(server: Server, key: str = API_KEY, **options: Any) -> openai.OpenAI:
    """The unchanged SDK (no retries unless asked), every response checked against the spec."""
    return conftest.checked_sdk(server, api_key=key, **options)


def upload(sdk: openai.OpenAI, path: Path = TRAIN, data: bytes | None = None) -> str:
    content = path.read_bytes() if data is None else data
    return sdk.files.create(file=(path.name, content), purpose="fine-tune").id


def move_until(
    server: Server,
    sdk: openai.OpenAI,
    job_id: str,
    done: Callable[[FineTuningJob], bool],
    step: float = 10,
) -> FineTuningJob:
    """Advance the manual clock `step` seconds at a time until `done(job)`."""
    for _ in range(MAX_MOVES):
        job = sdk.fine_tuning.jobs.retrieve(job_id)
        if done(job):
            return job
        server.advance(step)
    raise AssertionError(f"{job_id} never got there")


def finish(server: Server, sdk: openai.OpenAI, job_id: str, step: float = 60) -> FineTuningJob:
    return move_until(server, sdk, job_id, lambda job: job.status in TERMINAL, step)


def started_at(sdk: openai.OpenAI, job_id: str) -> int | None:
    """When the job's "Fine-tuning job started" event says it started."""
    for event in sdk.fine_tuning.jobs.list_events(job_id, limit=100):
        if event.message == "Fine-tuning job started":
            return event.created_at
    return None
