"""The fine-tuning workflow through the openai SDK's Azure clients, against a live mockft
server on a manual clock. It imports nothing of mockft, so any SDK line can run it (openai
1.x and 2.x on httpx, 3.x on httpx2):

    python tests/sdk_flows/azure_workflow.py --root http://127.0.0.1:PORT [--config key]

Configurations (`CONFIGS`), each as users write it:
- `key`:       AzureOpenAI(azure_endpoint=ROOT, api_key=K, api_version=V)
- `entra`:     AzureOpenAI(azure_endpoint=ROOT, azure_ad_token=T, api_version=V)
- `v1`:        AzureOpenAI(base_url=ROOT/openai/v1, api_key=K, api_version="preview"),
               the key in the `api-key` header
- `v1-openai`: OpenAI(base_url=ROOT/openai/v1, api_key=K), the key as a bearer token

`run()` uploads a training file and waits for its import, fine-tunes a model to success,
reads the events, checkpoints, base64 result CSV and model, deploys the model through the
`/mockft/azure/deployments` stand-in, chats with it through the deployment (plain and
streamed), checks that an unknown deployment is Azure's `DeploymentNotFound`, and that the
job is the same job on `/v1`. It raises AssertionError at the first difference and returns
a summary. The clock moves through `POST /mockft/clock/advance`.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai

CONFIGS = ("key", "entra", "v1", "v1-openai")
CLASSIC = frozenset({"key", "entra"})
API_VERSION = "2024-10-21"
V1_API_VERSION = "preview"
API_KEY = "azure-key-0123456789"
AD_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra.token"
BASE_MODEL = "gpt-4o-mini-2024-07-18"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TRAINING_FILE = FIXTURES / "train_chat.jsonl"
MAX_POLLS = 2000
FILE_POLL_SECONDS = 5
JOB_POLL_SECONDS = 30
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


def client_for(config: str, root: str, *, max_retries: int = 0) -> openai.OpenAI:
    if config == "key":
        return openai.AzureOpenAI(
            azure_endpoint=root, api_key=API_KEY, api_version=API_VERSION, max_retries=max_retries
        )
    if config == "entra":
        return openai.AzureOpenAI(
            azure_endpoint=root,
            azure_ad_token=AD_TOKEN,
            api_version=API_VERSION,
            max_retries=max_retries,
        )
    if config == "v1":
        return openai.AzureOpenAI(
            base_url=f"{root}/openai/v1",
            api_key=API_KEY,
            api_version=V1_API_VERSION,
            max_retries=max_retries,
        )
    if config == "v1-openai":
        return openai.OpenAI(base_url=f"{root}/openai/v1", api_key=API_KEY, max_retries=max_retries)
    raise ValueError(f"unknown configuration {config!r}; one of {', '.join(CONFIGS)}")


class Control:
    """mockft's control API over plain HTTP (stdlib only)."""

    def __init__(self, root: str, key: str = API_KEY) -> None:
        self.root = root
        self.key = key

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.root + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def advance(self, seconds: float) -> None:
        self.call("POST", "/mockft/clock/advance", {"seconds": seconds})

    def deploy(self, name: str, model: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "PUT", f"/mockft/azure/deployments/{name}", {"model": model}
        )
        return result


def trained_pair(path: Path) -> tuple[str, str]:
    """The first example's last user message and the reply it was trained on."""
    messages = json.loads(path.read_text(encoding="utf-8").splitlines()[0])["messages"]
    prompt = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    reply = next(m["content"] for m in reversed(messages) if m["role"] == "assistant")
    return prompt, reply


def _poll(
    fetch: Callable[[], Any], done: Callable[[Any], bool], advance: Callable[[], None]
) -> tuple[Any, list[str]]:
    seen: list[str] = []
    for _ in range(MAX_POLLS):
        obj = fetch()
        if not seen or seen[-1] != obj.status:
            seen.append(obj.status)
        if done(obj):
            return obj, seen
        advance()
    raise AssertionError(f"still {seen[-1]} after {MAX_POLLS} polls")


def run(root: str, config: str, *, training_file: Path = TRAINING_FILE) -> dict[str, Any]:
    classic = config in CLASSIC
    control = Control(root)
    summary: dict[str, Any] = {"config": config, "sdk": openai.__version__, "steps": []}
    step = summary["steps"].append
    with client_for(config, root) as client:
        # Files: the upload is imported (pending -> processed) before it can be used.
        with training_file.open("rb") as handle:
            uploaded = client.files.create(file=handle, purpose="fine-tune")
        assert uploaded.id.startswith("file-"), uploaded.id
        assert uploaded.status == "pending", uploaded.status
        imported, statuses = _poll(
            lambda: client.files.retrieve(uploaded.id),
            lambda f: f.status != "pending",
            lambda: control.advance(FILE_POLL_SECONDS),
        )
        assert statuses == ["pending", "processed"], statuses
        assert imported.bytes == training_file.stat().st_size
        step("files")

        # A job to success; the classic data plane writes it as Azure does.
        job = client.fine_tuning.jobs.create(
            model=BASE_MODEL, training_file=uploaded.id, suffix=config, seed=7
        )
        assert job.id.startswith("ftjob-"), job.id
        if classic:
            assert job.status == "pending", job.status
            assert job.hyperparameters.n_epochs == -1, job.hyperparameters
            assert job.organization_id is None and job.result_files is None
        else:
            assert job.status == "validating_files", job.status
            assert job.hyperparameters.n_epochs == "auto", job.hyperparameters
        job, statuses = _poll(
            lambda: client.fine_tuning.jobs.retrieve(job.id),
            lambda j: j.status in TERMINAL,
            lambda: control.advance(JOB_POLL_SECONDS),
        )
        assert job.status == "succeeded", (job.status, job.error)
        expected = ["pending", "running"] if classic else ["validating_files", "queued", "running"]
        assert statuses == [*expected, "succeeded"], statuses
        assert job.fine_tuned_model and job.fine_tuned_model.startswith(f"ft:{BASE_MODEL}:")
        assert isinstance(job.hyperparameters.n_epochs, int) and job.hyperparameters.n_epochs > 0
        listed = [j.id for j in client.fine_tuning.jobs.list(limit=5)]
        assert job.id in listed, listed
        step("job")

        events = list(client.fine_tuning.jobs.list_events(job.id, limit=5))  # auto-paging
        messages = [e.message for e in events]
        assert any(e.type == "metrics" for e in events), messages[:5]
        assert messages[0] == "The job has successfully completed", messages[0]
        assert messages[-1].startswith("Created fine-tuning job"), messages[-1]
        step("events")

        checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
        assert checkpoints and all(c.fine_tuning_job_id == job.id for c in checkpoints)
        assert ":ckpt-step-" in checkpoints[-1].fine_tuned_model_checkpoint
        step("checkpoints")

        result = client.files.retrieve(job.result_files[0])
        assert (result.purpose, result.status) == ("fine-tune-results", "processed")
        csv = base64.b64decode(client.files.content(result.id).read()).decode()
        assert csv.startswith("step,train_loss,"), csv[:40]
        step("results")

        model = client.models.retrieve(job.fine_tuned_model)
        assert model.id == job.fine_tuned_model
        step("model")

        # Calls go through a deployment; an unknown one is Azure's DeploymentNotFound.
        deployment = f"marv-{config}"
        made = control.deploy(deployment, job.fine_tuned_model)
        assert made["model"] == job.fine_tuned_model, made
        prompt, reply = trained_pair(training_file)
        messages_in = [{"role": "user", "content": prompt}]
        answer = client.chat.completions.create(model=deployment, messages=messages_in)
        assert answer.choices[0].message.content == reply, answer.choices[0].message
        assert answer.model == job.fine_tuned_model, answer.model
        chunks = client.chat.completions.create(model=deployment, messages=messages_in, stream=True)
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert streamed == reply, streamed
        try:
            client.chat.completions.create(model="no-such-deployment", messages=messages_in)
        except openai.NotFoundError as error:
            assert error.code == "DeploymentNotFound", error.body
        else:
            raise AssertionError("an unknown deployment was answered")
        step("chat")

    # The same service underneath: the job is the same job on /v1.
    with openai.OpenAI(base_url=f"{root}/v1", api_key=API_KEY, max_retries=0) as plain:
        same = plain.fine_tuning.jobs.retrieve(job.id)
        assert (same.status, same.fine_tuned_model) == ("succeeded", job.fine_tuned_model)
    step("same-job")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--config", choices=CONFIGS, action="append", help="default: all")
    args = parser.parse_args(argv)
    for config in args.config or CONFIGS:
        print(json.dumps(run(args.root.rstrip("/"), config)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
