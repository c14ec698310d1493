"""The official OpenAI Node SDK (`openai` from npm, pinned by tests/node/package-lock.json)
runs the whole workflow (tests/node/workflow.mjs) against a live server, unchanged but for
its baseURL. Runs wherever node is installed: the dependencies are installed here with
`npm ci` (from the lock file) when tests/node/node_modules lacks them."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, Server

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE = shutil.which("node")
NPM = shutil.which("npm")


def _installed() -> bool:
    package = NODE_DIR / "node_modules" / "openai" / "package.json"
    if not package.is_file():
        return False
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    wanted = lock["packages"]["node_modules/openai"]["version"]
    return bool(json.loads(package.read_text())["version"] == wanted)


def _ensure_installed() -> None:
    """`npm ci` once: under pytest-xdist, the workers that want it take turns (a lock on
    the lock file), and those after the first find it done."""
    with open(NODE_DIR / "package-lock.json", "rb") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if _installed():
            return
        assert NPM is not None, "node is installed but npm is not"
        result = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
        assert _installed()


# SDK settings a shell may carry: the scripts name their endpoints and keys themselves.
SDK_ENVIRONMENT = frozenset(
    {
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_API_VERSION",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
    }
)


def run_workflow(script: str, **variables: str) -> dict[str, Any]:
    """Run a workflow script of tests/node with these environment variables; its summary
    (the last line of its output)."""
    assert NODE is not None
    _ensure_installed()
    env = {k: v for k, v in os.environ.items() if k not in SDK_ENVIRONMENT}
    result = subprocess.run(
        [NODE, script],
        cwd=NODE_DIR,
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"node {script} failed:\n{result.stdout}\n{result.stderr}"
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.live  # node connects to it
def test_node_sdk_workflow(server: Server) -> None:
    summary = run_workflow(
        "workflow.mjs",
        MOCKFT_ROOT=server.root_url,
        MOCKFT_TRAIN=str(FIXTURES / "train_chat.jsonl"),
        MOCKFT_VALID=str(FIXTURES / "valid_chat.jsonl"),
    )
    assert summary["ok"] is True
    assert summary["steps"] == ["files", "uploads", "jobs", "models", "chat", "errors"]
