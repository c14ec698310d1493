"""Abuse of the scenario loader and the job limits: a file nested too deeply, or numbers
the store cannot hold or a job cannot reach, are a 400 `invalid_scenario` naming the
field, and nothing is stored: before, some were 500s, and a `validated` count too large
left a job behind that turned every later job list into a 500, across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, in_process, make_settings, raw_http

TRAINING = (FIXTURES / "train_chat.jsonl").read_text()
FILE = f'[[files]]\nname = "t.jsonl"\npurpose = "fine-tune"\ncontent = """{TRAINING}"""\n'
JOB = FILE + '[[jobs]]\ntraining_file = "t.jsonl"\n'

SCENARIOS = {
    "nested arrays": ("a = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    "nested tables": ("a = " + "{b = " * 3000 + "1" + "}" * 3000, "nested too deeply"),
    "a daily limit of 10**30": ("[limits]\nmax_jobs_per_day = " + "9" * 30, "max_jobs_per_day"),
    "an id sequence past 64 bits": ("id_sequence = " + "9" * 26, "id_sequence"),
    "an infinite learning rate": (
        JOB + "hyperparameters = { learning_rate_multiplier = inf }\n",
        "learning_rate_multiplier",
    ),
    "more examples than 64 bits": (
        JOB + "validated = { examples = 99999999999999999999999, tokens = 1 }\n",
        "validated.examples",
    ),
    "more examples than a job can train": (
        JOB + "validated = { examples = 9000000000000000000, tokens = 9000000000000000000 }\n",
        "validated.tokens",
    ),
}


@pytest.mark.parametrize(("text", "named"), SCENARIOS.values(), ids=SCENARIOS.keys())
def test_hostile_scenarios_are_refused_and_leave_nothing(
    tmp_path: Path, text: str, named: str
) -> None:
    settings = make_settings(tmp_path)
    with in_process(settings) as server, raw_http(server, "sk-x") as http:
        response = http.post(
            f"{server.root_url}/mockft/scenario",
            content=text.encode(),
            headers={"content-type": "application/toml"},
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_scenario"
        assert named in error["message"]
        for path in ("/fine_tuning/jobs", "/files", "/models"):
            assert http.get(path).status_code == 200
        assert http.get("/fine_tuning/jobs").json()["data"] == []
    with in_process(settings) as server, raw_http(server, "sk-x") as http:  # restarts whole
        assert http.get("/fine_tuning/jobs").status_code == 200


def test_a_deeply_nested_json_scenario_is_a_400(tmp_path: Path) -> None:
    with in_process(make_settings(tmp_path)) as server, raw_http(server, "sk-x") as http:
        response = http.post(
            f"{server.root_url}/mockft/scenario",
            content=b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert "nested too deeply" in response.json()["error"]["message"]


@pytest.mark.parametrize("name", ["max_jobs_per_day", "max_running_jobs"])
def test_limits_the_store_cannot_hold_are_a_400(tmp_path: Path, name: str) -> None:
    with in_process(make_settings(tmp_path)) as server, raw_http(server, "sk-x") as http:
        url = f"{server.root_url}/mockft/limits"
        response = http.post(url, json={name: 10**30})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == name
        assert http.get(url).json()[name] is None
        assert http.post(url, json={name: 2**31 - 1}).json()[name] == 2**31 - 1
