"""Training data and downloads, asserted from captures of the real API (data branch).

Every expected value comes from a capture (tests/data/captures/data/, or a quote with its
URL and date), never from mockft's output. See docs/fidelity.md, "Training data validation"
and "Files: downloads"."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import openai

from tests.conftest import FIXTURES, Server

CAPTURES = Path(__file__).resolve().parent.parent / "data" / "captures" / "data"
TRAIN = FIXTURES / "train_chat.jsonl"
DPO_TRAIN = FIXTURES / "train_dpo.jsonl"
MAX_POLLS = 100
POLL_SECONDS = 120
# The frame every training-file error but "too few examples" starts with: the newest captures'
# (johny-b/llmcomp#59, 2026-02-12; code invalid_file_format in a public log, 2025-10-31).
PREFIX = "The job failed due to a file format error in the training file. "


@cache
def capture(name: str) -> Any:
    return json.loads((CAPTURES / name).read_text(encoding="utf-8"))


def examples(count: int) -> list[dict[str, Any]]:
    """``count`` distinct valid chat examples."""
    return [
        {
            "messages": [
                {"role": "system", "content": "Marv is a factual chatbot that is also sarcastic."},
                {"role": "user", "content": f"What is {n} plus one?"},
                {"role": "assistant", "content": f"{n + 1}, obviously."},
            ]
        }
        for n in range(count)
    ]


def jsonl(rows: list[Any]) -> bytes:
    return b"".join(
        (row if isinstance(row, bytes) else json.dumps(row).encode()) + b"\n" for row in rows
    )


def failed_job(client: openai.OpenAI, server: Server, data: bytes, **create: Any) -> dict[str, Any]:
    training = client.files.create(file=("train.jsonl", data), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model=create.pop("model", "gpt-4o-mini"), training_file=training.id, **create
    )
    for _ in range(MAX_POLLS):
        job = client.fine_tuning.jobs.retrieve(job.id)
        if job.status in {"succeeded", "failed", "cancelled"}:
            break
        server.advance(POLL_SECONDS)
    assert job.status == "failed", job
    assert job.error is not None
    return {"code": job.error.code, "message": job.error.message, "param": job.error.param}


# -- issue 12 item 2: too few examples ----------------------------------------------------


def test_too_few_examples(client: openai.OpenAI, server: Server) -> None:
    # openai-php/client tests/Fixtures/FineTuning.php (since 2023-11-14): 3 examples.
    real = capture("openai-php_fine_tuning_failed_job.json")["error"]
    assert failed_job(client, server, jsonl(examples(3))) == real
    # A public script's printed job list, job ftjob-a308vfcPA0tSNMeqFdkRDuX4 (2024-12-29).
    assert failed_job(client, server, jsonl(examples(7))) == {
        "code": "invalid_n_examples",
        "message": "Training file has 7 example(s), but must have at least 10 examples",
        "param": "training_file",
    }


# -- issue 12 item 12: the training-file error wording ------------------------------------


def test_a_message_without_a_role(client: openai.OpenAI, server: Server) -> None:
    # inaimathi/langnostic, an openai 1.12.0 session (job created 2024-02-26): the detail
    # after its (2024) frame, in the newest captures' frame and code.
    real = capture("langnostic_failed_job_missing_role.json")["error"]
    detail = real["message"].removeprefix("The job failed due to an invalid training file. ")
    rows: list[Any] = examples(120)
    del rows[99]["messages"][1]["role"]  # example 100, message 2
    assert failed_job(client, server, jsonl(rows)) == {
        "code": "invalid_file_format",
        "message": PREFIX + detail,
        "param": real["param"],
    }


def test_a_line_that_is_not_json(client: openai.OpenAI, server: Server) -> None:
    # openai-php/client tests/Fixtures/File.php (2023-03-08): a file's status_details.
    detail = capture("openai-php_file_error_status.json")["status_details"]
    rows: list[Any] = examples(1300)
    rows[1272] = (  # line 1273: a missing comma at column 79 (char 78)
        b'{"messages": [{"role": "user", "content": "' + b"q" * 32 + b'"} '
        b'{"role": "assistant", "content": "A"}]}'
    )
    error = failed_job(client, server, jsonl(rows))
    assert error == {
        "code": "invalid_file_format",
        "message": PREFIX + detail,
        "param": "training_file",
    }


def test_a_special_token_in_a_message(client: openai.OpenAI, server: Server) -> None:
    # johny-b/llmcomp#59 (2026-02-12): "... Invalid file format. Example 6174 message contains
    # an invalid token: <|fim_suffix|>."
    rows = examples(6200)
    rows[6173]["messages"][2]["content"] = "def f(): <|fim_suffix|> return 1"
    error = failed_job(client, server, jsonl(rows))
    assert error["message"].endswith(
        "Invalid file format. Example 6174 message contains an invalid token: <|fim_suffix|>."
    )
    assert error["message"].startswith(PREFIX) and error["param"] == "training_file"


def test_a_key_the_chat_format_lacks(client: openai.OpenAI, server: Server) -> None:
    # A public fine-tuning log (2025-10-31): 'Invalid file format. Example 1 contains an
    # extra "weight".' for examples carrying a top-level weight.
    rows: list[Any] = examples(12)
    rows[0]["weight"] = 0.5
    error = failed_job(client, server, jsonl(rows))
    assert error["message"].endswith('Invalid file format. Example 1 contains an extra "weight".')


def test_an_example_without_messages(client: openai.OpenAI, server: Server) -> None:
    # A public README's troubleshooting (transito fine-tuning, Spanish): "Invalid file format.
    # Example X is missing key 'messages'".
    rows: list[Any] = examples(12)
    rows[4] = {"conversation": rows[4]["messages"]}
    error = failed_job(client, server, jsonl(rows))
    assert "Invalid file format. Example 5 is missing key 'messages'" in error["message"]


def test_a_file_of_no_known_format(client: openai.OpenAI, server: Server) -> None:
    # A ChatGPT conversation export in the public code index: "The job failed due to an
    # invalid training file. Unexpected file format, expected either prompt/completion pairs
    # or chat messages." (the 2024 frame; the newest captures frame it as a file format error)
    rows = [{"text": f"note {n}"} for n in range(12)]
    assert failed_job(client, server, jsonl(rows)) == {
        "code": "invalid_file_format",
        "message": "The job failed due to a file format error in the training file. "
        "Unexpected file format, "
        "expected either prompt/completion pairs or chat messages.",
        "param": "training_file",
    }


def test_a_chat_file_for_a_dpo_job(client: openai.OpenAI, server: Server) -> None:
    # A public script's printed job list (2024-12-29, ftjob-rECaQPZd0I5N2rYDF1mhwIXT), with
    # the trailing space it prints.
    training = client.files.create(file=(TRAIN.name, TRAIN.read_bytes()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-2024-08-06",
        training_file=training.id,
        method={"type": "dpo"},
    )
    server.advance(3600)
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.error is not None
    assert (failed.error.code, failed.error.param) == ("invalid_file_format", "training_file")
    assert failed.error.message == (
        "The job failed due to a file format error in the training file. "
        "Invalid file format. Input file "
        f"{training.id} is in the fine-tune-chat format, but the specified fine-tuning job is "
        "not using 'supervised' as the training method (provided method=dpo). "
    )


# -- issue 12 item 11: downloads ----------------------------------------------------------


def test_assistants_and_user_data_files_are_not_downloadable(http: httpx.Client) -> None:
    # community.openai.com thread 1357013 (2025): "Error code: 400 - {'error': {'message':
    # 'Not allowed to download files of purpose: user_data', 'type': 'invalid_request_error',
    # 'param': None, 'code': None}}"; the same for assistants.
    for purpose in ("user_data", "assistants"):
        created = http.post("/files", files={"file": ("a.txt", b"x")}, data={"purpose": purpose})
        response = http.get(f"/files/{created.json()['id']}/content")
        assert response.status_code == 400
        assert response.json() == {
            "error": {
                "message": f"Not allowed to download files of purpose: {purpose}",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
