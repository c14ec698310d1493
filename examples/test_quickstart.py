"""A test suite's view of mockft: `pip install mockft` is the whole set-up.

The `mockft` fixture gives each test a fresh, in-process mock of the OpenAI fine-tuning API
(manual clock, nothing on disk, no sockets) and a handle to drive it.

    python -m pytest examples/test_quickstart.py
"""

from __future__ import annotations

import json

import openai
import pytest

MODEL = "gpt-4o-mini"


def training_data(examples: int = 12) -> bytes:
    """A small valid chat training file (the real service wants at least 10 examples)."""
    lines = [
        {
            "messages": [
                {"role": "system", "content": "Marv is a factual chatbot that is also sarcastic."},
                {"role": "user", "content": f"What is {n} times {n}?"},
                {"role": "assistant", "content": f"{n * n}. Try a calculator next time."},
            ]
        }
        for n in range(examples)
    ]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def test_a_fine_tuning_job_runs_to_success(mockft):
    client = mockft.openai()  # the official SDK, wired to the mock in-process
    training = client.files.create(file=("train.jsonl", training_data()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=training.id, suffix="marv")
    assert job.status == "validating_files"

    done = mockft.run_until_done(job.id)  # moves the clock to the job's end

    assert done.status == "succeeded"
    assert done.fine_tuned_model.startswith("ft:gpt-4o-mini-2024-07-18:")
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))  # all pages, newest first
    assert events[-1].message == f"Created fine-tuning job: {job.id}"
    assert events[0].message == "The job has successfully completed"
    assert any(e.type == "metrics" for e in events)
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert checkpoints[0].fine_tuned_model_checkpoint == done.fine_tuned_model  # the last one
    for c in checkpoints[1:]:  # earlier ones: a model of their own, ft:...:ckpt-step-N
        assert c.fine_tuned_model_checkpoint.endswith(f":ckpt-step-{c.step_number}")
    assert client.models.retrieve(done.fine_tuned_model).owned_by


def test_the_job_moves_with_the_clock(mockft):
    client = mockft.openai()
    training = client.files.create(file=("train.jsonl", training_data()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=training.id)

    mockft.advance(60)  # validation takes 15-60 s on the real service, and here
    assert client.fine_tuning.jobs.retrieve(job.id).status in {"queued", "running"}

    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"


def test_my_code_handles_a_failed_job(mockft):
    client = mockft.openai()
    training = client.files.create(file=("train.jsonl", training_data()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=training.id)

    mockft.fail_job(job.id, "quota_exceeded", "You exceeded your current quota.")

    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed"
    assert failed.error.code == "quota_exceeded"


def test_the_sdk_retries_through_rate_limits(mockft):
    # The next two requests get a 429 asking to retry after 1 ms; the SDK retries them.
    mockft.chaos(status=429, times=2, retry_after_ms=1)

    assert mockft.openai().files.list().data == []

    assert [(r.status, r.chaos) for r in mockft.requests] == [
        (429, True),
        (429, True),
        (200, False),
    ]


def test_my_code_sees_an_outage(mockft):
    mockft.chaos(status=503, should_retry=False)  # x-should-retry: false

    with pytest.raises(openai.InternalServerError):
        mockft.openai().fine_tuning.jobs.list()

    assert len(mockft.requests) == 1  # the SDK did not retry


@pytest.mark.mockft(seed=42)
def test_a_seed_makes_every_id_and_number_repeatable(mockft):
    client = mockft.openai()
    training = client.files.create(file=("train.jsonl", training_data()), purpose="fine-tune")
    assert mockft.settings.seed == 42
    assert training.id.startswith("file-")
