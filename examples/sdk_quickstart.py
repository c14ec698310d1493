"""Fine-tune with the unchanged openai SDK against a running mockft server.

    mockft serve --speed 600 &
    export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=sk-test
    python examples/sdk_quickstart.py [training.jsonl]

Nothing here knows about mockft: the SDK reads OPENAI_BASE_URL and OPENAI_API_KEY. With
the default speed (60 virtual seconds per real second) a small job takes a few seconds.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

from openai import OpenAI

MODEL = "gpt-4o-mini"
POLL_SECONDS = 0.2
TERMINAL = {"succeeded", "failed", "cancelled"}


def training_data(examples: int = 12) -> bytes:
    lines = [
        {
            "messages": [
                {"role": "user", "content": f"Capital of country #{n}?"},
                {"role": "assistant", "content": f"City #{n}, as everyone knows."},
            ]
        }
        for n in range(examples)
    ]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def main(argv: list[str]) -> int:
    data = Path(argv[0]).read_bytes() if argv else training_data()
    with OpenAI() as client:
        training = client.files.create(file=("train.jsonl", data), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(
            model=MODEL, training_file=training.id, suffix="quickstart"
        )
        print(f"created {job.id} ({job.status})")

        seen = [job.status]
        while job.status not in TERMINAL:
            time.sleep(POLL_SECONDS)
            job = client.fine_tuning.jobs.retrieve(job.id)
            if job.status != seen[-1]:
                seen.append(job.status)
        print("statuses:", " -> ".join(seen))

        for event in reversed(client.fine_tuning.jobs.list_events(job.id, limit=8).data):
            print(f"  [{event.level}] {event.message}")

        if job.status != "succeeded":
            print(f"job {job.status}: {job.error}")
            return 1
        print("fine-tuned model:", job.fine_tuned_model)
        for checkpoint in client.fine_tuning.jobs.checkpoints.list(job.id).data:
            print("  checkpoint:", checkpoint.fine_tuned_model_checkpoint)
        # The result file is served base64-encoded, as the real API serves it.
        csv = base64.b64decode(client.files.content(job.result_files[0]).read()).decode()
        print("result columns:", csv.splitlines()[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
