"""Continued fine-tuning (the guide's FAQ): a job whose `model` is one of the organization's
fine-tuned models, or one of their checkpoints, trains on from it."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import openai
import pytest

from tests.conftest import Server, in_process, make_settings
from tests.training import MODEL, SNAPSHOT, checked_sdk, finish, upload

MORE = b"".join(
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": f"What is the code word number {i}?"},
                {"role": "assistant", "content": f"The code word is Osprey-{i}."},
            ]
        }
    ).encode()
    + b"\n"
    for i in range(12)
)


def trained(server: Server, client: openai.OpenAI, model: str = MODEL, **options: str) -> str:
    job = client.fine_tuning.jobs.create(model=model, training_file=upload(client), **options)  # type: ignore[arg-type]
    done = finish(server, client, job.id)
    assert done.status == "succeeded" and done.fine_tuned_model is not None
    return done.fine_tuned_model


def reply(client: openai.OpenAI, model: str, prompt: str) -> str | None:
    answer = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}]
    )
    return answer.choices[0].message.content


def test_a_model_trained_here_trains_on_end_to_end(server: Server, client: openai.OpenAI) -> None:
    first = trained(server, client)
    more = upload(client, Path("more.jsonl"), MORE)
    job = client.fine_tuning.jobs.create(model=first, training_file=more, suffix="round-2")
    # the job shows the model it trains from; the new model is named after the base snapshot
    # (ft:gpt-3.5-turbo-0613:personal::8LcRd7Sc continued into ...::8LiXilx9, a public capture)
    assert job.model == first
    done = finish(server, client, job.id)
    assert done.status == "succeeded"
    assert done.model == first
    assert done.fine_tuned_model is not None
    assert done.fine_tuned_model.startswith(f"ft:{SNAPSHOT}:mockft:round-2:")
    assert done.fine_tuned_model.count(":") == 4 and done.fine_tuned_model != first
    listed = {m.id for m in client.models.list()}
    assert {first, done.fine_tuned_model} <= listed
    # the new model knows what its parent learned, and what it learned itself
    parent = "What's the capital of France?"
    assert reply(client, done.fine_tuned_model, parent) == reply(client, first, parent)
    assert reply(client, done.fine_tuned_model, parent) == (
        "Paris, as if everyone doesn't know that already."
    )
    assert reply(client, done.fine_tuned_model, "What is the code word number 3?") == (
        "The code word is Osprey-3."
    )
    assert reply(client, first, "What is the code word number 3?") != "The code word is Osprey-3."


def test_a_checkpoint_model_trains_on_too(server: Server, client: openai.OpenAI) -> None:
    first = trained(server, client)
    jobs = client.fine_tuning.jobs.list().data
    checkpoints = client.fine_tuning.jobs.checkpoints.list(jobs[0].id).data
    earlier = next(
        c.fine_tuned_model_checkpoint
        for c in checkpoints
        if "ckpt-step" in c.fine_tuned_model_checkpoint
    )
    assert earlier.startswith(first.rsplit(":", 1)[0])
    job = client.fine_tuning.jobs.create(model=earlier, training_file=upload(client))
    assert job.model == earlier
    done = finish(server, client, job.id)
    assert done.fine_tuned_model is not None
    assert done.fine_tuned_model.startswith(f"ft:{SNAPSHOT}:mockft::")
    assert "ckpt-step" not in done.fine_tuned_model


def test_a_deleted_model_cannot_be_continued(server: Server, client: openai.OpenAI) -> None:
    first = trained(server, client)
    assert client.models.delete(first).deleted
    with pytest.raises(openai.BadRequestError) as refused:
        client.fine_tuning.jobs.create(model=first, training_file=upload(client))
    # the real answer for a fine-tuned model one may not tune (openai-cookbook#657)
    assert refused.value.body == {
        "message": f"Model {first} is not available for fine-tuning or does not exist.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_available",
    }


def test_another_organizations_model_cannot_be_continued(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_keys=("k-a=team-a", "k-b=team-b"))
    with in_process(settings) as server, ExitStack() as stack:
        team_a = stack.enter_context(checked_sdk(server, "k-a"))
        team_b = stack.enter_context(checked_sdk(server, "k-b"))
        theirs = trained(server, team_a)
        with pytest.raises(openai.BadRequestError) as refused:
            team_b.fine_tuning.jobs.create(model=theirs, training_file=upload(team_b))
        assert refused.value.code == "model_not_available"
