"""Vision fine-tuning data end to end with the unchanged SDK: a file of examples with images
trains gpt-4o-2024-08-06, each image billed as its size and detail make it cost; images that
cannot be used are skipped with a warn-level event; an image in an assistant message, or
images for a model that is not fine-tuned on them, fail the job as a file format error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai

from tests.conftest import FIXTURES, Server
from tests.test_images import data_url
from tests.training import finish, upload

VISION_MODEL = "gpt-4o-2024-08-06"
RGB_PNG = data_url("rgb.png")  # 40 x 30: one tile at high detail, 255 tokens
EPOCHS = 2


def examples(*parts: dict[str, Any], role: str = "user", count: int = 10) -> bytes:
    lines = []
    for number in range(count):
        question: Any = f"What is in picture {number}?"
        answer: Any = "A red square."
        if parts and role == "user":
            question = [{"type": "text", "text": question}, *parts]
        elif parts:
            answer = [{"type": "text", "text": answer}, *parts]
        messages = [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
        lines.append(json.dumps({"messages": messages}).encode() + b"\n")
    return b"".join(lines)


def image(url: str = RGB_PNG, detail: str = "high") -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, "detail": detail}}


def train(server: Server, client: openai.OpenAI, data: bytes, model: str = VISION_MODEL) -> Any:
    job = client.fine_tuning.jobs.create(
        model=model,
        training_file=upload(client, Path("vision.jsonl"), data),
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": EPOCHS}}},
    )
    return finish(server, client, job.id)


def warnings_of(client: openai.OpenAI, job_id: str) -> list[str]:
    events = client.fine_tuning.jobs.list_events(job_id, limit=100)
    return [event.message for event in events if event.level == "warn"]


def test_images_train_the_vision_model_billed_by_size_and_detail(
    server: Server, client: openai.OpenAI
) -> None:
    text = train(server, client, examples())
    high = train(server, client, examples(image()))
    mixed = train(server, client, examples(image(detail="low"), image("https://example.com/a.png")))
    assert text.status == high.status == mixed.status == "succeeded"
    assert text.trained_tokens is not None
    # the image parts' own tokens, per example and epoch: 255 for the 40 x 30 PNG at high
    # detail, 85 at low; a web image, never fetched, costs a 1024 x 1024 one: 765 at high
    assert high.trained_tokens == text.trained_tokens + EPOCHS * 10 * 255
    assert mixed.trained_tokens == text.trained_tokens + EPOCHS * 10 * (85 + 765)
    assert warnings_of(client, high.id) == []
    # the model answers a question with an image, as gpt-4o does
    answer = client.chat.completions.create(
        model=high.fine_tuned_model,
        messages=[{"role": "user", "content": [{"type": "text", "text": "And this?"}, image()]}],
    )
    assert answer.choices[0].message.content


def test_the_fixture_file_trains_and_skipped_images_are_a_warning(
    server: Server, client: openai.OpenAI
) -> None:
    vision = train(server, client, (FIXTURES / "train_vision.jsonl").read_bytes())
    assert vision.status == "succeeded", vision.error
    skipped = train(server, client, (FIXTURES / "warn" / "skipped_image.jsonl").read_bytes())
    assert skipped.status == "succeeded", skipped.error
    (warning,) = warnings_of(client, skipped.id)
    # line 3's image is a GIF
    assert warning == (
        f"Training file {skipped.training_file}: images of 1 example(s) were skipped and not "
        "used for training (invalid image format: 1; line 3)."
    )


def test_an_image_in_an_assistant_message_fails_the_job(
    server: Server, client: openai.OpenAI
) -> None:
    job = train(server, client, examples(image(), role="assistant"))
    assert job.status == "failed"
    assert job.error.code == "invalid_file_format"
    assert job.error.param == "training_file"
    assert job.error.message == (
        "The job failed due to a file format error in the training file. Invalid file format. "
        "Example 1, message 2, content part 2: an image cannot be in an assistant message "
        "(images are inputs only)."
    )
    assert job.trained_tokens is None and job.fine_tuned_model is None


def test_images_for_a_model_not_fine_tuned_on_them_fail_the_job(
    server: Server, client: openai.OpenAI
) -> None:
    job = train(server, client, examples(image()), model="gpt-4o-mini")
    assert job.status == "failed"
    assert job.error.code == "invalid_file_format"
    assert job.error.message.endswith(
        "Example 1, message 1, content part 2: gpt-4o-mini-2024-07-18 cannot be fine-tuned on "
        "images; vision fine-tuning supports gpt-4o-2024-08-06."
    )


def test_a_vision_model_trains_on_with_images(server: Server, client: openai.OpenAI) -> None:
    first = train(server, client, examples(image()))
    assert first.status == "succeeded" and first.fine_tuned_model is not None
    # continued fine-tuning judges the data by the base snapshot's rules
    again = train(server, client, examples(image(detail="low")), model=first.fine_tuned_model)
    assert again.status == "succeeded", again.error
    assert again.model == first.fine_tuned_model
    assert again.fine_tuned_model is not None
    assert again.fine_tuned_model.startswith(f"ft:{VISION_MODEL}:")
