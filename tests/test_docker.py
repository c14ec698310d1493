"""The Docker image, as far as it can be checked without a Docker engine: the command the
image runs, with the image's environment, serves `/mockft/health` on every interface, and
the image's own health check passes against it; the Dockerfile, compose file and
.dockerignore agree with each other."""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mockft.pytest_plugin.live import ServeProcess, free_port
from tests.conftest import NO_PRELOAD

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"
START_TIMEOUT = 30.0  # seconds for the server to answer
HEALTH_PATH = "/mockft/health"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions, continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line.strip())
        pending = ""
    parsed = []
    for entry in logical:
        keyword, _, arguments = entry.strip().partition(" ")
        parsed.append(Instruction(keyword.upper(), arguments.strip()))
    return parsed


def exec_form(arguments: str) -> list[str]:
    command = json.loads(arguments)
    assert isinstance(command, list) and all(isinstance(a, str) for a in command), arguments
    return command


def image_env(parsed: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in parsed:
        if item.keyword != "ENV":
            continue
        words = shlex.split(item.arguments)
        if words and "=" not in words[0]:  # legacy `ENV KEY value`
            env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, _, value = word.partition("=")
            env[key] = value
    return env


def last(parsed: list[Instruction], keyword: str) -> Instruction | None:
    found = [i for i in parsed if i.keyword == keyword]
    return found[-1] if found else None


def image_command(parsed: list[Instruction]) -> list[str]:
    entrypoint, cmd = last(parsed, "ENTRYPOINT"), last(parsed, "CMD")
    command = exec_form(entrypoint.arguments) if entrypoint else []
    return command + (exec_form(cmd.arguments) if cmd else [])


def healthcheck_command(parsed: list[Instruction]) -> list[str]:
    check = last(parsed, "HEALTHCHECK")
    assert check is not None
    _, _, command = check.arguments.partition("CMD ")
    return exec_form(command)


@pytest.fixture(scope="module")
def parsed() -> list[Instruction]:
    return instructions(DOCKERFILE.read_text())


class Container(ServeProcess):
    """The image's command, run here with the image's environment (where it listens and
    keeps its state come from that environment, not from flags), in a directory of its own."""

    def __init__(
        self, parsed: list[Instruction], workdir: Path, env: dict[str, str] | None = None
    ) -> None:
        port = free_port()
        self.data_dir = workdir / "data"
        env = {
            **image_env(parsed),
            "MOCKFT_DATA_DIR": str(self.data_dir),
            "MOCKFT_PORT": str(port),
            **(env or {}),
        }
        super().__init__(
            port=port,
            env=env,
            cwd=workdir,
            log=workdir / "container.log",
            start_seconds=START_TIMEOUT,
        )
        self.command = tuple(image_command(parsed))

    def argv(self) -> list[str]:
        return list(self.command)

    def get(self, path: str) -> dict[str, object]:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            body: dict[str, object] = json.load(answer)
        return body


@pytest.fixture
def container(parsed: list[Instruction], tmp_path: Path) -> Iterator[Container]:
    with Container(parsed, tmp_path) as running:
        yield running


@pytest.fixture
def lazy_container(parsed: list[Instruction], tmp_path: Path) -> Iterator[Container]:
    """`container`, but its vocabularies are loaded when first used rather than at start
    (~1.2 s of CPU): for tests about something else than the image's start-up."""
    with Container(parsed, tmp_path, env=NO_PRELOAD) as running:
        yield running


def test_the_image_command_serves_health_on_every_interface(container: Container) -> None:
    assert container.env["MOCKFT_HOST"] == "0.0.0.0"
    assert container.get(HEALTH_PATH)["status"] == "ok"
    container.stop()
    output = container.output()
    assert f"http://0.0.0.0:{container.port}" in output  # uvicorn: where it listens
    assert (container.data_dir / "mockft.sqlite3").is_file()  # state in the data volume


def test_the_image_health_check_passes_against_it(
    parsed: list[Instruction], lazy_container: Container
) -> None:
    check = subprocess.run(
        healthcheck_command(parsed),
        env={**os.environ, **lazy_container.env},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert check.returncode == 0, check.stderr


def test_the_image_health_check_fails_when_nothing_answers(parsed: list[Instruction]) -> None:
    env = {**os.environ, **image_env(parsed), "MOCKFT_PORT": str(free_port())}
    check = subprocess.run(
        healthcheck_command(parsed), env=env, capture_output=True, text=True, timeout=10
    )
    assert check.returncode != 0


def test_the_image_is_slim_non_root_and_keeps_its_state_in_a_volume(
    parsed: list[Instruction],
) -> None:
    env = image_env(parsed)
    assert last(parsed, "FROM") == Instruction("FROM", "python:3.11-slim")
    user = last(parsed, "USER")
    assert user is not None and user.arguments.split(":")[0] not in {"0", "root"}
    expose = last(parsed, "EXPOSE")
    assert expose is not None and expose.arguments == env["MOCKFT_PORT"] == "8000"
    volume = last(parsed, "VOLUME")
    assert volume is not None and exec_form(volume.arguments) == [env["MOCKFT_DATA_DIR"]]
    assert HEALTH_PATH in " ".join(healthcheck_command(parsed))
    assert image_command(parsed) == ["mockft", "serve"]


def test_compose_builds_the_dockerfile_and_publishes_the_port() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    service = compose["services"]["mockft"]
    context = (COMPOSE.parent / service["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / service["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert any(str(p).endswith(":8000") for p in service["ports"])
    assert any(str(v).endswith(":/data") for v in service["volumes"])


def test_the_build_context_keeps_what_the_dockerfile_copies(parsed: list[Instruction]) -> None:
    ignored = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [
        source
        for item in parsed
        if item.keyword == "COPY"
        for source in shlex.split(item.arguments)[:-1]
    ]
    assert {"pyproject.toml", "README.md", "mockft"} <= set(copied)
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    for bulky in ("tests", ".git", "benchmarks"):
        assert bulky in ignored
