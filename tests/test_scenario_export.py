"""Export and replay: a state reached by hand, written as a scenario (`GET /mockft/scenario`,
`mockft scenario export`), loads into a fresh server that answers the API the same; and
the same scenario, seed and clock give byte-identical answers run after run."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mockft.app import create_app
from mockft.cli import main
from mockft.config import Settings
from tests.conftest import FIXTURES

TRAIN = (FIXTURES / "train_chat.jsonl").read_bytes()
START = 1_717_232_400  # 2024-06-01T09:00:00Z
KEY = {"Authorization": "Bearer sk-test"}
ACME = {"Authorization": "Bearer sk-acme"}  # the key tests/data/scenarios/support.toml gives
RULES = textwrap.dedent("""
    [[outcomes]]
    match = { suffix = "fail-*" }
    fail = { at_step = 3, code = "invalid_training_file" }

    [[outcomes]]
    match = { suffix = "held" }
    hold = {}

    [[answers]]
    prompt_regex = "(?i)capital of france"
    reply = "Paris."
    """)


@contextmanager
def app(*scenarios: Path, seed: int = 7) -> Iterator[TestClient]:
    """A fresh server: from the scenarios alone (their clock and seed), or when there are
    none, on a manual clock at START with `seed` (a flag or variable would win over the
    scenario's)."""
    fresh = {} if scenarios else {"clock": "manual", "start_time": START, "seed": seed}
    settings = Settings.model_validate({"memory": True, "scenario": scenarios, **fresh})
    with TestClient(create_app(settings)) as client:
        client.headers.update(KEY)
        yield client


def advance(client: TestClient, seconds: float) -> None:
    assert client.post("/mockft/clock/advance", json={"seconds": seconds}).status_code == 200


def drive_by_hand(client: TestClient) -> None:
    """Files, jobs ending every way, a model deleted, a chaos rule: a state reached by hand."""
    assert client.post("/mockft/scenario", content=RULES).status_code == 200
    training = client.post(
        "/v1/files", files={"file": ("train.jsonl", TRAIN)}, data={"purpose": "fine-tune"}
    ).json()["id"]
    client.post(
        "/v1/files", files={"file": ("notes.jsonl", b'{"a": 1}\n')}, data={"purpose": "batch"}
    )
    jobs = {}
    for suffix in ("good", "fail-1", "held", "gone", "stopped"):
        body = {"model": "gpt-4o-mini", "training_file": training, "suffix": suffix}
        answer = client.post("/v1/fine_tuning/jobs", json=body)
        assert answer.status_code == 200, answer.text
        jobs[suffix] = answer.json()["id"]
        advance(client, 30)
    advance(client, 60)
    assert client.post(f"/v1/fine_tuning/jobs/{jobs['stopped']}/cancel").status_code == 200
    advance(client, 6 * 3600)
    gone = client.get(f"/v1/fine_tuning/jobs/{jobs['gone']}").json()["fine_tuned_model"]
    assert client.delete(f"/v1/models/{gone}").status_code == 200
    chaos = {"path": "/v1/models", "status": 503, "times": 1}
    assert client.post("/mockft/chaos", json=chaos).status_code == 200


def answers(client: TestClient) -> dict[str, str]:
    """What a client sees: every list, every job's events, checkpoints and result CSV, and a
    call of a fine-tuned model (the chaos rule is left to fire: it is in the state too)."""
    seen: dict[str, str] = {}
    for path in ("/v1/files", "/v1/fine_tuning/jobs?limit=100"):
        seen[path] = client.get(path).text
    for job in json.loads(seen["/v1/fine_tuning/jobs?limit=100"])["data"]:
        for part in ("", "/events?limit=100", "/checkpoints"):
            path = f"/v1/fine_tuning/jobs/{job['id']}{part}"
            seen[path] = client.get(path).text
        for file_id in job["result_files"]:
            path = f"/v1/files/{file_id}/content"
            seen[path] = client.get(path).text
    seen["/v1/models"] = client.get("/v1/models").text  # 503: the rule fires once
    seen["/v1/models again"] = client.get("/v1/models").text
    models = [m["id"] for m in json.loads(seen["/v1/models again"])["data"]]
    (trained,) = [m for m in models if ":good:" in m and "ckpt-step" not in m]
    for prompt in ("What's the capital of France?", "Who painted the Mona Lisa?"):
        body = {"model": trained, "messages": [{"role": "user", "content": prompt}], "seed": 1}
        seen[f"chat {prompt}"] = client.post("/v1/chat/completions", json=body).text
    return seen


def test_an_exported_state_loads_back_to_the_same_api_answers(tmp_path: Path):
    with app() as first:
        drive_by_hand(first)
        exported = first.get("/mockft/scenario")
        assert exported.status_code == 200
        before = answers(first)
    jobs = json.loads(before["/v1/fine_tuning/jobs?limit=100"])["data"]
    statuses = {job["status"] for job in jobs}
    assert statuses == {"succeeded", "failed", "queued", "cancelled"}
    assert json.loads(before["/v1/models"])["error"]["message"] == (
        "The server is overloaded or not ready yet."
    )
    saved = tmp_path / "state.toml"
    saved.write_text(exported.text)
    with app(saved) as second:
        again = second.get("/mockft/scenario").text
        after = answers(second)
    assert after.keys() == before.keys()
    for path in before:
        assert after[path] == before[path], path
    assert again == exported.text  # export → load → export is a fixed point


def test_a_loaded_export_goes_on_as_the_original_would(tmp_path: Path):
    """The held job stays held, the rules hold for new jobs, and new ids do not repeat."""
    with app() as first:
        drive_by_hand(first)
        saved = tmp_path / "state.toml"
        saved.write_text(first.get("/mockft/scenario").text)
    with app(saved) as second:
        jobs = second.get("/v1/fine_tuning/jobs?limit=100").json()["data"]
        (held,) = [j for j in jobs if j["user_provided_suffix"] == "held"]
        assert held["status"] == "queued"
        advance(second, 86_400)
        assert second.get(f"/v1/fine_tuning/jobs/{held['id']}").json()["status"] == "queued"
        assert second.post(f"/mockft/jobs/{held['id']}/release").status_code == 200
        advance(second, 86_400)
        assert second.get(f"/v1/fine_tuning/jobs/{held['id']}").json()["status"] == "succeeded"
        body = {"model": "gpt-4o-mini", "training_file": held["training_file"], "suffix": "fail-2"}
        new = second.post("/v1/fine_tuning/jobs", json=body).json()
        assert new["id"] not in {j["id"] for j in jobs}
        advance(second, 86_400)
        failed = second.get(f"/v1/fine_tuning/jobs/{new['id']}").json()
        assert (failed["status"], failed["error"]["code"]) == ("failed", "invalid_training_file")


@pytest.mark.parametrize("seed", [7, 8])
def test_same_scenario_seed_and_clock_give_byte_identical_answers(seed: int, tmp_path: Path):
    runs = []
    for _ in range(2):
        with app(seed=seed) as client:
            drive_by_hand(client)
            runs.append((answers(client), client.get("/mockft/scenario").text))
    assert runs[0] == runs[1]
    with app(seed=seed + 100) as client:  # the seed is what makes them so
        drive_by_hand(client)
        assert client.get("/mockft/scenario").text != runs[0][1]


def test_the_examples_export_deterministically(tmp_path: Path):
    """A scenario file alone (its seed and clock) gives the same export every time."""
    example = Path(__file__).parent / "data" / "scenarios" / "support.toml"
    exports = []
    for _ in range(2):
        with app(example) as client:
            exports.append(client.get("/mockft/scenario", headers=ACME).text)
    assert exports[0] == exports[1]
    assert 'fine_tuned_model = "ft:gpt-4o-mini-2024-07-18:acme:support:abc12345"' in exports[0]


def test_the_cli_checks_and_publishes_the_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    good = Path(__file__).parent / "data" / "scenarios" / "support.toml"
    assert main(["scenario", "check", str(good)]) == 0
    assert "ft:gpt-4o-mini-2024-07-18:acme:support:abc12345" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[outcomes]]\nmatch = { suffix = "x" }\n\n[[chaos]]\nstatus = 418\n')
    assert main(["scenario", "check", str(bad)]) != 0
    problems = capsys.readouterr()
    lines = (problems.out + problems.err).strip().splitlines()
    assert any(line.startswith(f"{bad}:1: outcomes[0]:") for line in lines), lines
    assert any(line.startswith(f"{bad}:5: chaos[0].status:") for line in lines), lines
    assert main(["scenario", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "mockft scenario"
    assert {"jobs", "outcomes", "chaos", "answers", "clock"} <= schema["properties"].keys()


# -- projects, admin keys and checkpoint permissions ----------------------------------------

SHARED = Path(__file__).parent.parent / "examples" / "scenarios" / "shared-checkpoint.toml"
ROOT = {"Authorization": "Bearer sk-root"}


@contextmanager
def team(scenario: Path) -> Iterator[TestClient]:
    """A server of several organizations (its state exported with a control key)."""
    settings = Settings(memory=True, control_keys=("sk-root",), scenario=(scenario,))
    with TestClient(create_app(settings)) as client:
        client.headers.update(ROOT)  # the control API's key; /v1 calls name their own
        yield client


def as_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def team_answers(client: TestClient) -> dict[str, str]:
    """Each key's models, each checkpoint's grants, and each key's call of each model."""
    seen: dict[str, str] = {}
    research, admin = as_key("sk-research"), as_key("sk-acme-admin")
    (job,) = client.get("/v1/fine_tuning/jobs", headers=research).json()["data"]
    checkpoints = client.get(f"/v1/fine_tuning/jobs/{job['id']}/checkpoints", headers=research)
    models = [c["fine_tuned_model_checkpoint"] for c in checkpoints.json()["data"]]
    for model in models:
        path = f"/v1/fine_tuning/checkpoints/{model}/permissions"
        seen[path] = client.get(path, headers=admin).text
    for key in ("sk-research", "sk-prod", "sk-staging"):
        seen[f"{key} models"] = client.get("/v1/models", headers=as_key(key)).text
        for model in models:
            body = {"model": model, "messages": [{"role": "user", "content": "ping"}], "seed": 1}
            answer = client.post("/v1/chat/completions", json=body, headers=as_key(key))
            seen[f"{key} calls {model}"] = answer.text
    return seen


def test_projects_admin_keys_and_grants_export_and_load_back(tmp_path: Path):
    """Grants made by hand (one added, one deleted) and those of the scenario export with
    the keys they need, and load back to the same answers for every key."""
    with team(SHARED) as first:
        admin = as_key("sk-acme-admin")
        research = as_key("sk-research")
        (job,) = first.get("/v1/fine_tuning/jobs", headers=research).json()["data"]
        checkpoints = first.get(f"/v1/fine_tuning/jobs/{job['id']}/checkpoints", headers=research)
        final, step75, step60 = [
            c["fine_tuned_model_checkpoint"] for c in checkpoints.json()["data"]
        ]
        advance(first, 60)
        path = f"/v1/fine_tuning/checkpoints/{final}/permissions"
        made = first.post(path, json={"project_ids": ["proj_staging", "proj_x"]}, headers=admin)
        assert made.status_code == 200, made.text
        gone = made.json()["data"][1]["id"]
        assert first.delete(f"{path}/{gone}", headers=admin).status_code == 200
        exported = first.get("/mockft/scenario", headers=ROOT)
        assert exported.status_code == 200
        before = team_answers(first)
    assert json.loads(before[path])["data"][0]["project_id"] == "proj_staging"
    assert f"sk-staging calls {step60}" in before
    statuses = {k: json.loads(v).get("error", {}).get("code") for k, v in before.items()}
    assert statuses[f"sk-prod calls {step75}"] is None
    assert statuses[f"sk-prod calls {final}"] == "model_not_found"
    assert statuses[f"sk-staging calls {final}"] is None
    saved = tmp_path / "team.toml"
    saved.write_text(exported.text)
    with team(saved) as second:
        again = second.get("/mockft/scenario", headers=ROOT).text
        after = team_answers(second)
    assert after.keys() == before.keys()
    for key in before:
        assert after[key] == before[key], key
    assert again == exported.text  # export → load → export is a fixed point
