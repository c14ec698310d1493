"""A scenario in a container, as docs/scenarios.md shows it: the image's command with the
image's environment and MOCKFT_SCENARIO naming a mounted file. Seeded objects are there at
start and survive a restart on the same data volume without being seeded twice; a bad
scenario stops the server with every problem at its line. The compose file's scenario
lines name a file that exists."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import NO_PRELOAD
from tests.test_docker import (
    COMPOSE,
    DOCKERFILE,
    Container,
    free_port,
    image_command,
    image_env,
    instructions,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "scenarios"
MODEL = "ft:gpt-4o-mini-2024-07-18:acme:support:Bq7xK2mP"


def environment(scenario: Path, data_dir: Path, port: int) -> dict[str, str]:
    parsed = instructions(DOCKERFILE.read_text())
    image = {**image_env(parsed), "MOCKFT_DATA_DIR": str(data_dir), "MOCKFT_PORT": str(port)}
    return {**os.environ, **image, "MOCKFT_SCENARIO": str(scenario)}


@contextmanager
def serve(scenario: Path, workdir: Path) -> Iterator[str]:
    """The image's command with MOCKFT_SCENARIO, its state in `workdir`/data (vocabularies
    loaded when first used, not at start)."""
    container = Container(instructions(DOCKERFILE.read_text()), workdir, env=NO_PRELOAD)
    container.env["MOCKFT_SCENARIO"] = str(scenario)
    with container:
        yield f"http://127.0.0.1:{container.port}"


def call(root: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        root + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer sk-acme", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, Any] = json.load(answer)
    return result


def test_a_mounted_scenario_is_there_at_start_and_seeded_once(tmp_path: Path):
    scenario = EXAMPLES / "pretrained-model.toml"
    with serve(scenario, tmp_path) as root:
        (job,) = call(root, "/v1/fine_tuning/jobs")["data"]
        assert (job["status"], job["fine_tuned_model"]) == ("succeeded", MODEL)
        chat = {"model": MODEL, "messages": [{"role": "user", "content": "refund?"}]}
        answer = call(root, "/v1/chat/completions", chat)
        assert answer["choices"][0]["message"]["content"].startswith("Refunds reach")
    with serve(scenario, tmp_path) as root:  # a restart on the same volume
        assert call(root, "/v1/fine_tuning/jobs")["data"] == [job]


def test_a_bad_mounted_scenario_stops_the_server_with_every_problem(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[clock]\nmode = "fast"\n\n[[outcomes]]\nmatch = { sufix = "x" }\n')
    data_dir = tmp_path / "data"
    finished = subprocess.run(
        image_command(instructions(DOCKERFILE.read_text())),
        env=environment(bad, data_dir, free_port()),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode != 0
    problems = [line for line in finished.stderr.splitlines() if line.startswith(str(bad))]
    assert [p.split(": ", 2)[0:2] for p in problems] == [
        [f"{bad}:2", "clock.mode"],
        [f"{bad}:5", "outcomes[0].match"],
    ], finished.stderr


def test_the_compose_files_scenario_lines_name_an_example():
    text = COMPOSE.read_text()
    (named,) = re.findall(r"MOCKFT_SCENARIO: /scenarios/(\S+)", text)
    (mount,) = re.findall(r"- (\S+):/scenarios:ro", text)
    assert (COMPOSE.parent / mount).resolve() == EXAMPLES
    assert (EXAMPLES / named).is_file()
