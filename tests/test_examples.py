"""The examples run as users would run them, and the reference docs agree with the code."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.routing import Route

from mockft import lifecycle
from mockft.config import ENV_PREFIX, Settings
from mockft.pytest_plugin import MockFTServer
from mockft.routes import control
from tests.conftest import ONLY_MOCKFT_PLUGIN

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DOCS = ROOT / "docs"
SCRIPT_TIMEOUT = 120  # seconds
DOC_FILES = [
    "quickstart.md",
    "pytest.md",
    "control-api.md",
    "configuration.md",
    "lifecycle.md",
    "fidelity.md",
]


def test_the_example_test_suite_passes(pytester: pytest.Pytester) -> None:
    """`examples/test_quickstart.py`, copied into a project of its own: nothing but the
    installed plugin (and strict pytest settings) around it."""
    pytester.makepyfile(test_quickstart=(EXAMPLES / "test_quickstart.py").read_text())
    result = pytester.runpytest(
        *ONLY_MOCKFT_PLUGIN, "--strict-markers", "-W", "error", "-p", "no:cacheprovider"
    )
    tests = len(re.findall(r"^def test_", (EXAMPLES / "test_quickstart.py").read_text(), re.M))
    result.assert_outcomes(passed=tests)


@pytest.mark.mockft(clock="system", speed=20_000)
def test_the_sdk_script_fine_tunes_against_a_live_server(mockft_server: MockFTServer) -> None:
    # The script reads OPENAI_BASE_URL / OPENAI_API_KEY, which the fixture set.
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "sdk_quickstart.py")],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "The job has successfully completed" in run.stdout
    assert re.search(r"fine-tuned model: ft:gpt-4o-mini-[\d-]+:mockft:quickstart:", run.stdout)
    assert "result columns: step,train_loss" in run.stdout
    assert [r.path for r in mockft_server.requests][:2] == ["/v1/files", "/v1/fine_tuning/jobs"]


@pytest.mark.mockft(clock="system", speed=20_000)
def test_the_sdk_script_reports_a_failed_job(mockft_server: MockFTServer, tmp_path: Path) -> None:
    too_few = tmp_path / "one.jsonl"  # fails validation: the service wants 10 examples
    too_few.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, '
        '{"role": "assistant", "content": "hello"}]}\n'
    )
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "sdk_quickstart.py"), str(too_few)],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "job failed" in run.stdout


# --- docs --------------------------------------------------------------------------------


def doc(name: str) -> str:
    return (DOCS / name).read_text()


def test_the_docs_exist_and_link_to_each_other() -> None:
    for name in DOC_FILES:
        text = doc(name)
        for target in re.findall(r"\]\(([a-z-]+\.md)(?:#[a-z-]+)?\)", text):
            assert (DOCS / target).is_file(), f"{name} links to missing {target}"


def test_the_configuration_reference_names_every_setting_and_flag() -> None:
    text = doc("configuration.md")
    for name in Settings.model_fields:
        assert f"`{ENV_PREFIX}{name.upper()}`" in text, name
    serve_help = subprocess.run(
        [sys.executable, "-m", "mockft", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in set(re.findall(r"(--[a-z][a-z-]+)", serve_help)) - {"--help"}:
        assert f"`{flag}" in text, flag


def test_the_control_api_reference_names_every_control_route() -> None:
    def ids(text: str) -> str:
        return re.sub(r"\{[a-z_]+\}", "{id}", text)

    documented = ids(doc("control-api.md"))
    checked = 0
    for route in control.routes:
        assert isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}:
            assert f"`{method} {ids('/mockft' + route.path)}`" in documented, route.path
            checked += 1
    assert checked == len(control.routes)


def test_the_lifecycle_constants_table_matches_the_code() -> None:
    rows = re.findall(r"^\| `([A-Z_]+)` \| `([^`]+)` \|$", doc("lifecycle.md"), re.M)
    assert len(rows) >= 20
    for name, value in rows:
        assert ast.literal_eval(value) == getattr(lifecycle, name), name
