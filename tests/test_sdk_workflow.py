"""The standard workflow through the installed `openai` SDK, over real HTTP, with nothing but
the plugin's `mockft_server` fixture: upload (Files and Uploads), a job to success, paginated
events and checkpoints, the base64 result CSV, models retrieve/delete, chat and streamed chat.

The suite runs it with the SDK the test extras install; `nox -s sdk_python` runs it (with
the plugin's own tests) under the latest release of every SDK line, 1.x, 2.x and 3.x."""

from __future__ import annotations

import base64
import csv
import io
from pathlib import Path

import openai
import pytest

from mockft.pytest_plugin import MockFTServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TRAIN = FIXTURES / "train_chat.jsonl"
VALID = FIXTURES / "valid_chat.jsonl"
PART_BYTES = 64


def upload_in_parts(client: openai.OpenAI, data: bytes, filename: str) -> str:
    """The Uploads API: create, add parts, complete; the File it makes."""
    upload = client.uploads.create(
        bytes=len(data), filename=filename, mime_type="text/jsonl", purpose="fine-tune"
    )
    assert upload.status == "pending"
    parts = [
        client.uploads.parts.create(upload.id, data=data[at : at + PART_BYTES]).id
        for at in range(0, len(data), PART_BYTES)
    ]
    done = client.uploads.complete(upload.id, part_ids=parts)
    assert done.status == "completed" and done.file is not None
    assert (done.file.bytes, done.file.filename) == (len(data), filename)
    return done.file.id


def test_the_standard_workflow(mockft_server: MockFTServer) -> None:
    with openai.OpenAI() as client:  # OPENAI_BASE_URL and OPENAI_API_KEY name the server
        with TRAIN.open("rb") as file:
            training = client.files.create(file=file, purpose="fine-tune")
        assert (training.status, training.bytes) == ("processed", TRAIN.stat().st_size)
        assert client.files.content(training.id).content == TRAIN.read_bytes()
        validation = upload_in_parts(client, VALID.read_bytes(), "valid.jsonl")

        job = client.fine_tuning.jobs.create(
            model="gpt-4o-mini",
            training_file=training.id,
            validation_file=validation,
            suffix="matrix",
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
        )
        assert job.status == "validating_files"
        done = mockft_server.run_until_done(job.id)
        assert done.status == "succeeded" and done.fine_tuned_model is not None
        assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"

        # events newest first; the SDK follows `after` page by page
        pages = client.fine_tuning.jobs.list_events(job.id, limit=5)
        events = list(pages)
        assert len(events) > 5
        assert pages.has_more is True  # the first page alone was not all of them
        messages = [e.message for e in reversed(events)]
        assert messages[0] == f"Created fine-tuning job: {job.id}"
        assert messages[-1] == "The job has successfully completed"
        assert len({e.id for e in events}) == len(events)

        checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.id, limit=1))
        assert [c.step_number for c in checkpoints] == sorted(
            (c.step_number for c in checkpoints), reverse=True
        )
        assert len(checkpoints) == 2  # one per epoch
        model = done.fine_tuned_model
        # the last checkpoint's model is the fine-tuned model; an earlier one is its own model
        assert checkpoints[0].fine_tuned_model_checkpoint == model
        earlier = checkpoints[-1].fine_tuned_model_checkpoint
        assert earlier.endswith(f":ckpt-step-{checkpoints[-1].step_number}")

        (result_id,) = done.result_files
        content = client.files.content(result_id).content
        rows = list(csv.reader(io.StringIO(base64.b64decode(content).decode())))
        assert rows[0][:2] == ["step", "train_loss"]
        assert len(rows) - 1 == checkpoints[0].step_number

        assert client.models.retrieve(model).owned_by == done.organization_id
        answer = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hello?"}], seed=3
        )
        text = answer.choices[0].message.content
        assert text and answer.model == model
        stream = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Hello?"}],
            seed=3,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert streamed == text
        assert chunks[-1].usage is not None

        assert client.models.delete(earlier).deleted is True
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve(earlier)
        assert client.models.retrieve(model).id == model
        with pytest.raises(openai.PermissionDeniedError):
            client.models.delete("gpt-4o-mini")
