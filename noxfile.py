"""Every line of the official SDKs against mockft, each in its own cached environment.

    nox                      # everything: 3 Python lines, 4 Node lines
    nox -t python            # sdk_python: the latest openai 1.x, 2.x, 3.x
    nox -t node              # sdk_node: the latest Node openai 4.x, 5.x, 6.x, 7.x
    nox -R ...               # reuse the environments of an earlier run (no reinstall)

sdk_python runs, in a virtualenv of its own per line, the standard workflow through the SDK
(tests/test_sdk_workflow.py) and the pytest plugin's fixtures (tests/test_pytest_plugin.py,
examples/test_quickstart.py). sdk_node installs one Node line from its lock file
(tests/node/openai-vN/) into the session's folder (kept between runs; npm's cache makes a
fresh install quick) and runs tests/node/workflow.mjs against `mockft serve` with a manual
clock, using the mockft this nox runs beside (`.ci/run`'s environment).

To follow a new release, change the pins below (and `npm install --package-lock-only` in
tests/node/openai-vN/ for Node).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
NODE_DIR = ROOT / "tests" / "node"
FIXTURES = ROOT / "fixtures"

# The latest release of each line (`pip index versions openai`, `npm view openai versions`).
PYTHON_SDKS = ["1.109.1", "2.54.0", "3.57.0"]
NODE_SDKS = ["4", "5", "6", "7"]  # pinned in tests/node/openai-v{N}/package-lock.json
# What the Python sessions' tests import besides mockft and openai (the test extras, less the
# linters, fuzzers and benchmark tools these tests do not use).
PYTHON_TEST_DEPS = ["pytest>=8", "httpx>=0.27", "jsonschema>=4.21", "jsonschema-rs>=0.60"]
PYTHON_TESTS = ["tests/test_sdk_workflow.py", "tests/test_pytest_plugin.py"]
QUICKSTART = "examples/test_quickstart.py"  # a user's suite: only the plugin's fixtures
ADDOPTS = "--strict-markers -q"  # pyproject's, less `-n auto` (pytest-xdist)
HEALTH_TIMEOUT = 30.0  # seconds for `mockft serve` to answer /mockft/health
WORKFLOW_TIMEOUT = 300  # seconds for one Node workflow

nox.options.sessions = ["sdk_python", "sdk_node"]
nox.options.error_on_missing_interpreters = True
nox.options.default_venv_backend = "uv|venv"  # uv installs in seconds from its cache


@nox.session(tags=["python"])
@nox.parametrize("openai", PYTHON_SDKS, ids=[v.split(".")[0] for v in PYTHON_SDKS])
def sdk_python(session: nox.Session, openai: str) -> None:
    session.install("-e", ".", f"openai=={openai}", *PYTHON_TEST_DEPS)
    installed = session.run("python", "-c", "import openai; print(openai.__version__)", silent=True)
    if str(installed).strip() != openai:
        session.error(f"openai {openai} wanted, {str(installed).strip()} installed")
    # Plugins other packages register are not what is tested here; nor are pytest-xdist's
    # workers (the repository's addopts ask for them): a line runs in one process, beside
    # the other lines.
    plugins = ["-p", "no:cacheprovider", "-p", "no:faker", "-o", f"addopts={ADDOPTS}"]
    session.run("python", "-m", "pytest", *plugins, *PYTHON_TESTS, QUICKSTART)


@nox.session(tags=["node"], python=False)
@nox.parametrize("major", NODE_SDKS, ids=NODE_SDKS)
def sdk_node(session: nox.Session, major: str) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        session.error("node and npm are needed for the Node SDK lines")
    mockft = shutil.which("mockft")
    if mockft is None:
        session.error("run nox where mockft is installed (pip install -e .)")
    workdir = Path(session.create_tmp())
    pinned = NODE_DIR / f"openai-v{major}"
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(pinned / name, workdir / name)
    shutil.copyfile(NODE_DIR / "workflow.mjs", workdir / "workflow.mjs")
    if not _node_installed(workdir):
        with session.chdir(workdir):
            session.run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", external=True)
    with _served(mockft) as root:
        env = {
            "MOCKFT_ROOT": root,
            "MOCKFT_TRAIN": str(FIXTURES / "train_chat.jsonl"),
            "MOCKFT_VALID": str(FIXTURES / "valid_chat.jsonl"),
        }
        with session.chdir(workdir):
            output = session.run(node, "workflow.mjs", env=env, external=True, silent=True)
    summary = json.loads(str(output).strip().splitlines()[-1])
    if summary.get("ok") is not True:
        session.error(f"the workflow did not finish: {summary}")
    session.log(f"openai {_locked_version(workdir)}: {', '.join(summary['steps'])}")


def _locked_version(workdir: Path) -> str:
    lock = json.loads((workdir / "package-lock.json").read_text())
    return str(lock["packages"]["node_modules/openai"]["version"])


def _node_installed(workdir: Path) -> bool:
    """The lock file's openai is what node_modules holds (an earlier run's install)."""
    package = workdir / "node_modules" / "openai" / "package.json"
    if not package.is_file():
        return False
    return bool(json.loads(package.read_text())["version"] == _locked_version(workdir))


@contextmanager
def _served(mockft: str) -> Iterator[str]:
    """`mockft serve` on a free port with a manual clock and no disk; its root URL."""
    from mockft.pytest_plugin import ServeProcess  # nox runs where mockft is installed

    flags = ("--memory", "--clock", "manual", "--log-level", "warning")
    with ServeProcess(*flags, command=[mockft], start_seconds=HEALTH_TIMEOUT) as server:
        yield server.root_url
