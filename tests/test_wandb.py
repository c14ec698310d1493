"""The Weights & Biases integration by the fine-tuning guide's rules: credentials registered
per organization before a job may enable it, its settings validated and echoed, and (with
`wandb` installed and a W&B directory) the job's run written in W&B's offline format."""

from __future__ import annotations

import sys
import types
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pydantic import ValidationError

from mockft.config import Settings
from mockft.errors import WANDB_NOT_REGISTERED_MESSAGE
from tests.conftest import Server, in_process, make_settings
from tests.training import MODEL, SNAPSHOT, checked_sdk, finish, upload

WANDB = {"type": "wandb", "wandb": {"project": "custom-wandb-project"}}


def control(server: Server, key: str = "sk-any") -> httpx.Client:
    client: httpx.Client = server.http_client(
        family="httpx", headers={"Authorization": f"Bearer {key}"}
    )
    return client


def test_a_job_enabling_wandb_without_credentials_is_refused(
    tmp_path: Path, stack: ExitStack
) -> None:
    with in_process(make_settings(tmp_path)) as server:
        sdk = stack.enter_context(checked_sdk(server))
        file_id = upload(sdk)
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id, integrations=[WANDB])  # type: ignore[list-item]
        assert refused.value.body == {
            "message": WANDB_NOT_REGISTERED_MESSAGE,
            "type": "invalid_request_error",
            "param": "integrations",
            "code": None,
        }
        assert sdk.fine_tuning.jobs.list().data == []  # nothing was created
        plain = sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id)
        assert plain.integrations == []


def test_with_credentials_the_job_succeeds_and_echoes_the_integration(
    tmp_path: Path, stack: ExitStack
) -> None:
    settings = make_settings(tmp_path, wandb_keys=("mockft=wk-0123456789abcdef",))
    with in_process(settings) as server:
        sdk = stack.enter_context(checked_sdk(server))
        file_id = upload(sdk)
        wandb = {"project": "my-project", "name": "run-name", "tags": ["project:tag", "lineage"]}
        job = sdk.fine_tuning.jobs.create(
            model=MODEL,
            training_file=file_id,
            integrations=[{"type": "wandb", "wandb": wandb}],  # type: ignore[list-item]
        )
        echoed = {**wandb, "entity": None, "run_id": job.id}
        assert job.integrations is not None
        assert job.integrations[0].model_dump() == {"type": "wandb", "wandb": echoed}
        done = finish(server, sdk, job.id)
        assert done.status == "succeeded"
        assert done.integrations is not None
        assert done.integrations[0].wandb.run_id == job.id
        raw = sdk.fine_tuning.jobs.with_raw_response.retrieve(job.id).http_response.json()
        # the real key order (printed jobs, 2025): project, entity, name, then the run's id
        assert list(raw["integrations"][0]["wandb"]) == [
            "project",
            "entity",
            "name",
            "tags",
            "run_id",
        ]


def test_an_integration_without_tags_or_name_echoes_nulls_but_no_tags(
    tmp_path: Path, stack: ExitStack
) -> None:
    with in_process(make_settings(tmp_path, wandb_keys=("mockft=wk",))) as server:
        sdk = stack.enter_context(checked_sdk(server))
        raw = sdk.fine_tuning.jobs.with_raw_response.create(
            model=MODEL,
            training_file=upload(sdk),
            integrations=[WANDB],  # type: ignore[list-item]
        ).http_response.json()
        assert raw["integrations"] == [
            {
                "type": "wandb",
                "wandb": {
                    "project": "custom-wandb-project",
                    "entity": None,
                    "name": None,
                    "run_id": raw["id"],
                },
            }
        ]


def test_credentials_registered_through_the_control_api(tmp_path: Path, stack: ExitStack) -> None:
    with in_process(make_settings(tmp_path)) as server:
        sdk = stack.enter_context(checked_sdk(server))
        http = stack.enter_context(control(server))
        file_id = upload(sdk)
        assert http.get("/mockft/wandb").json() == {"object": "list", "data": []}
        key = "0123456789abcdef0123456789abcdef01234567"
        registered = http.post("/mockft/wandb", json={"api_key": key}).json()
        assert registered["api_key"] == "01234567****************************4567"
        assert key not in http.get("/mockft/wandb").text  # never shown whole
        job = sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id, integrations=[WANDB])  # type: ignore[list-item]
        assert job.integrations is not None and job.integrations[0].type == "wandb"
        removed = http.delete("/mockft/wandb").json()
        assert removed["deleted"] is True
        with pytest.raises(openai.BadRequestError):
            sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id, integrations=[WANDB])  # type: ignore[list-item]


def test_an_organization_registers_only_its_own_credentials(
    tmp_path: Path, stack: ExitStack
) -> None:
    settings = make_settings(tmp_path, api_keys=("k-a=team-a", "k-b=team-b"), control_keys=("ctl",))
    with in_process(settings) as server:
        team_a, team_b = control(server, "k-a"), control(server, "k-b")
        admin = control(server, "ctl")
        for client in (team_a, team_b, admin):
            stack.enter_context(client)
        refused = team_a.post("/mockft/wandb", json={"api_key": "x", "organization": "team-b"})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "control_key_required"
        assert team_a.post("/mockft/wandb", json={"api_key": "key-a"}).status_code == 200
        assert [k["organization"] for k in team_b.get("/mockft/wandb").json()["data"]] == []
        assert (
            admin.post(
                "/mockft/wandb", json={"api_key": "key-b", "organization": "team-b"}
            ).status_code
            == 200
        )
        listed = admin.get("/mockft/wandb").json()["data"]
        assert sorted(k["organization"] for k in listed) == ["team-a", "team-b"]
        sdk_b = stack.enter_context(checked_sdk(server, "k-b"))
        job = sdk_b.fine_tuning.jobs.create(
            model=MODEL,
            training_file=upload(sdk_b),
            integrations=[WANDB],  # type: ignore[list-item]
        )
        assert job.integrations is not None


@pytest.mark.parametrize(
    ("wandb", "param", "message"),
    [
        (
            {"project": "p", "tags": [f"t{i}" for i in range(51)]},
            "integrations[0].wandb.tags",
            "Invalid 'integrations[0].wandb.tags': array too long. Expected an array with "
            "maximum length 50, but got an array with length 51 instead.",
        ),
        (
            {"project": "p", "tags": ["x" * 65]},
            "integrations[0].wandb.tags[0]",
            "Invalid 'integrations[0].wandb.tags[0]': string too long. Expected a string with "
            "maximum length 64, but got a string with length 65 instead.",
        ),
        (
            {"name": "no project"},
            "integrations[0].wandb.project",
            "Missing required parameter: 'integrations[0].wandb.project'.",
        ),
    ],
)
def test_the_settings_follow_the_guide(
    tmp_path: Path, stack: ExitStack, wandb: dict[str, Any], param: str, message: str
) -> None:
    with in_process(make_settings(tmp_path, wandb_keys=("mockft=wk",))) as server:
        sdk = stack.enter_context(checked_sdk(server))
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.fine_tuning.jobs.create(
                model=MODEL,
                training_file=upload(sdk),
                integrations=[{"type": "wandb", "wandb": wandb}],  # type: ignore[list-item]
            )
        assert refused.value.body["param"] == param  # type: ignore[index]
        assert refused.value.body["message"] == message  # type: ignore[index]


def test_keys_are_given_as_org_equals_key() -> None:
    settings = Settings.from_env({"MOCKFT_WANDB_KEYS": "team-a=k1, team-b=k2"})
    assert settings.wandb_keys == ("team-a=k1", "team-b=k2")
    for wrong in ("just-a-key", "=k", "team="):
        with pytest.raises(ValidationError) as refused:
            Settings(wandb_keys=(wrong,))
        assert "ORG=KEY" in str(refused.value)


# --- the offline run ------------------------------------------------------------------------


class FakeRun:
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls

    def log(self, data: dict[str, Any], step: int | None = None) -> None:
        self.calls.append(("log", (step, data)))

    def finish(self) -> None:
        self.calls.append(("finish", None))


@pytest.fixture
def fake_wandb(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """A stand-in for the `wandb` package that records what mockft asks of it, and lays out
    the offline run's folder as wandb does (`wandb/offline-run-{time}-{id}`)."""
    calls: list[tuple[str, Any]] = []
    module = types.ModuleType("wandb")

    def init(**kwargs: Any) -> FakeRun:
        calls.append(("init", kwargs))
        folder = Path(kwargs["dir"]) / "wandb" / f"offline-run-20261202_000000-{kwargs['id']}"
        folder.mkdir(parents=True)
        (folder / f"run-{kwargs['id']}.wandb").write_bytes(b"")
        return FakeRun(calls)

    module.init = init  # type: ignore[attr-defined]
    module.Settings = lambda **kwargs: kwargs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "wandb", module)
    return calls


def test_the_run_is_written_for_wandb_sync(
    tmp_path: Path, stack: ExitStack, fake_wandb: list[tuple[str, Any]]
) -> None:
    runs = tmp_path / "runs"
    settings = make_settings(tmp_path, wandb_keys=("mockft=wk",), wandb_dir=runs)
    with in_process(settings) as server:
        sdk = stack.enter_context(checked_sdk(server))
        file_id = upload(sdk)
        wandb = {"project": "p", "entity": "team", "tags": ["mine"]}
        job = sdk.fine_tuning.jobs.create(
            model=MODEL,
            training_file=file_id,
            integrations=[{"type": "wandb", "wandb": wandb}],  # type: ignore[list-item]
            seed=42,
        )
        plain = sdk.fine_tuning.jobs.create(model=MODEL, training_file=file_id)
        done = finish(server, sdk, job.id)
        finish(server, sdk, plain.id)
        events = list(sdk.fine_tuning.jobs.list_events(job.id, limit=100))
        sdk.fine_tuning.jobs.retrieve(job.id)  # seen again: written once only
    (kind, init), *rest = fake_wandb
    assert kind == "init"
    assert init["dir"] == str(runs)
    assert (init["id"], init["name"], init["project"], init["entity"]) == (
        job.id,
        job.id,  # no name given: the job's id (the guide)
        "p",
        "team",
    )
    assert init["tags"] == ["openai/fine-tuning", f"openai/{job.id}", f"openai/{SNAPSHOT}", "mine"]
    assert init["settings"]["mode"] == "offline"
    hyper = done.hyperparameters
    assert init["config"] == {
        "model": SNAPSHOT,
        "training_file": file_id,
        "validation_file": None,
        "hyperparameters": {
            "n_epochs": hyper.n_epochs,
            "batch_size": hyper.batch_size,
            "learning_rate_multiplier": hyper.learning_rate_multiplier,
        },
        "seed": 42,
    }
    logged = [payload for kind, payload in rest if kind == "log"]
    metrics = sorted((e for e in events if e.type == "metrics"), key=lambda e: e.created_at)
    assert len(logged) == len(metrics) == hyper.n_epochs * 15  # one per step of the 15 examples
    for (step, data), event in zip(logged, metrics, strict=True):
        assert event.data is not None
        reported = {k: v for k, v in event.data.items() if k not in ("step", "total_steps")}
        assert (step, data) == (event.data["step"], reported)
    assert rest[-1] == ("finish", None)
    assert [kind for kind, _ in fake_wandb].count("init") == 1  # the plain job has no run
    assert len(list((runs / "wandb").glob(f"offline-run-*-{job.id}"))) == 1


def test_without_wandb_installed_the_job_succeeds_all_the_same(
    tmp_path: Path, stack: ExitStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    runs = tmp_path / "runs"
    settings = make_settings(tmp_path, wandb_keys=("mockft=wk",), wandb_dir=runs)
    with in_process(settings) as server:
        sdk = stack.enter_context(checked_sdk(server))
        job = sdk.fine_tuning.jobs.create(
            model=MODEL,
            training_file=upload(sdk),
            integrations=[WANDB],  # type: ignore[list-item]
        )
        assert finish(server, sdk, job.id).status == "succeeded"
    assert not runs.exists()
