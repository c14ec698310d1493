"""LiteLLM's files and fine-tuning API (``custom_llm_provider="openai"``) against mockft.

    python benchmarks/clients/litellm_finetune.py TRAIN.jsonl [--poll SECONDS]

Upload (``create_file``), look the file up (``file_retrieve``, ``file_list``,
``file_content``), create a job (``create_fine_tuning_job``), list and retrieve it until
it ends, call the fine-tuned model with ``litellm.completion`` (plain and streamed), then a
second job cancelled at once, and the error LiteLLM raises for a job that does not exist.
LiteLLM reads ``OPENAI_BASE_URL`` / ``OPENAI_API_BASE`` and ``OPENAI_API_KEY``.
"""

from __future__ import annotations

import argparse
import json
import time

import litellm

OPENAI = {"custom_llm_provider": "openai"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train")
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--model", default="gpt-4o-mini-2024-07-18")
    args = parser.parse_args()

    with open(args.train, "rb") as f:
        file = litellm.create_file(file=f, purpose="fine-tune", **OPENAI)
    print("create_file:", file.id, file.status, file.filename, file.bytes)
    print("file_retrieve:", litellm.file_retrieve(file_id=file.id, **OPENAI).status)
    print("file_list:", [f.id for f in litellm.file_list(**OPENAI)])
    content = litellm.file_content(file_id=file.id, **OPENAI)
    with open(args.train, "rb") as f:
        assert content.content == f.read(), "the file's bytes differ"
    print("file_content: same bytes")

    job = litellm.create_fine_tuning_job(
        model=args.model, training_file=file.id, suffix="litellm", seed=42, **OPENAI
    )
    print("create_fine_tuning_job:", job.id, job.status, job.hyperparameters)
    listed = litellm.list_fine_tuning_jobs(limit=3, **OPENAI)
    print("list_fine_tuning_jobs:", [(j.id, j.status) for j in listed.data], listed.has_more)
    while job.status not in ("succeeded", "failed", "cancelled"):
        time.sleep(args.poll)
        job = litellm.retrieve_fine_tuning_job(fine_tuning_job_id=job.id, **OPENAI)
        print("retrieve_fine_tuning_job:", job.status, job.trained_tokens)
    if job.status != "succeeded":
        raise SystemExit(f"job ended {job.status}: {job.error}")
    print("fine_tuned_model:", job.fine_tuned_model, "result_files:", job.result_files)

    with open(args.train) as f:
        first = json.loads(f.readline())["messages"]
    prompt = [m for m in first if m["role"] != "assistant"]
    answer = litellm.completion(model=f"openai/{job.fine_tuned_model}", messages=prompt)
    print("completion (trained prompt):", answer.choices[0].message.content)
    print("usage:", answer.usage)
    cost = litellm.completion_cost(completion_response=answer)
    print("completion_cost:", cost)
    chunks = litellm.completion(
        model=f"openai/{job.fine_tuned_model}",
        messages=[{"role": "user", "content": "Say hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    print("completion (streamed):", text)

    second = litellm.create_fine_tuning_job(model=args.model, training_file=file.id, **OPENAI)
    cancelled = litellm.cancel_fine_tuning_job(fine_tuning_job_id=second.id, **OPENAI)
    print("cancel_fine_tuning_job:", cancelled.id, cancelled.status, cancelled.finished_at)

    try:
        litellm.retrieve_fine_tuning_job(fine_tuning_job_id="ftjob-missing", **OPENAI)
    except Exception as error:  # LiteLLM maps the API's 404 to its own exception type
        print("missing job:", type(error).__name__, str(error)[:200])
    print("workflow complete")


if __name__ == "__main__":
    main()
