"""What third-party clients showed mockft getting wrong (issue 12's bar, the `clients` branch).

The openai CLI, the cookbook notebooks, the openai-node example, DSPy, instructor,
LlamaIndex and LiteLLM were run unchanged against a fresh server (the drivers and how to
repeat the runs: `benchmarks/clients/README.md`). Where an answer differed from the real
API's, the fix is asserted here against the capture that shows the real answer
(`tests/data/captures/`); never against mockft's own output.
"""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

from mockft.pytest_plugin import MockFT
from tests.fidelity.conftest import TRAIN, capture

PROMPT_COMPLETION = TRAIN.parent / "train_prompt_completion.jsonl"


def _upload(mockft: MockFT, path: Any = TRAIN) -> str:
    return mockft.openai().files.create(file=(path.name, path.read_bytes()), purpose="fine-tune").id


def _create(mockft: MockFT, **body: Any) -> dict[str, Any]:
    body.setdefault("model", "gpt-4o-mini")
    body.setdefault("training_file", _upload(mockft))
    response = mockft.http_client().post("/v1/fine_tuning/jobs", json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


# -- jobs --------------------------------------------------------------------------------


def test_a_cancelled_job_has_no_finished_at(mockft: MockFT) -> None:
    """simple-openai's job list (2023-11-21) shows two cancelled jobs, both with
    `finished_at: null`; LiteLLM's and the openai CLI's cancel printed a time."""
    captured = [
        job for job in capture("simple-openai/finetunings_getlist.json")["data"]
        if job["status"] == "cancelled"
    ]
    assert len(captured) == 2 and {job["finished_at"] for job in captured} == {None}

    http = mockft.http_client()
    running = _create(mockft)["id"]
    while http.get(f"/v1/fine_tuning/jobs/{running}").json()["status"] != "running":
        mockft.advance(30)
    waiting = _create(mockft)["id"]  # cancelled while it validates
    for job_id in (running, waiting):
        cancelled = http.post(f"/v1/fine_tuning/jobs/{job_id}/cancel").json()
        assert (cancelled["status"], cancelled["finished_at"]) == ("cancelled", None)
    mockft.advance(10_000)
    for job_id in (running, waiting):
        assert http.get(f"/v1/fine_tuning/jobs/{job_id}").json()["finished_at"] is None
    listed = http.get("/v1/fine_tuning/jobs").json()["data"]
    assert [job["finished_at"] for job in listed] == [None, None]


# -- result files ------------------------------------------------------------------------


def test_a_babbage_002_result_file_is_plain_csv(mockft: MockFT) -> None:
    """The cookbook's classification notebook (a babbage-002 job, 2024-01-05) writes
    `files.content(...).text` to result.csv and reads it with `pd.read_csv`: the columns
    below, so the file is CSV, not the base64 a chat model's result file is."""
    captured = capture("openai-cookbook/fine_tuned_classification.json")["result_file"]
    job = _create(mockft, model="babbage-002", training_file=_upload(mockft, PROMPT_COMPLETION))
    done = mockft.run_until_done(job["id"])
    assert done.status == "succeeded"
    text = mockft.openai().files.content(done.result_files[0]).text

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == captured["columns"]
    assert [int(row[0]) for row in rows[1:]] == list(range(1, len(rows)))
    assert all(float(row[2]) <= 1.0 for row in rows[1:] if row[2])


def test_a_chat_model_result_file_stays_base64(mockft: MockFT) -> None:
    """The other side of the row above: chat models' result files are base64
    (docs/fidelity.md, "Time, training and results")."""
    columns = capture("openai-cookbook/fine_tuned_classification.json")["result_file"]["columns"]
    done = mockft.run_until_done(_create(mockft)["id"])
    text = mockft.openai().files.content(done.result_files[0]).text
    assert base64.b64decode(text).decode().splitlines()[0] == ",".join(columns)
