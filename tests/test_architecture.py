"""The import-linter contracts of pyproject.toml (docs/architecture.md) hold, and catch a module
that imports upward."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the `mockft` package found in `package_parent`."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=package_parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy_of_mockft(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "mockft", tmp_path / "mockft", ignore=shutil.ignore_patterns("*.pyc"))
    return tmp_path


UPWARD = [
    ("lifecycle.py", "from mockft import errors", "mockft.lifecycle is not allowed to import"),
    ("store/blobs.py", "import mockft.pagination", "mockft.store is not allowed to import"),
    ("routes/models.py", "import mockft.store", "mockft.routes is not allowed to import"),
    ("service/models.py", "import starlette.requests", "mockft.service is not allowed"),
]


def test_upward_imports_break_them(copy_of_mockft: Path) -> None:
    """One run for all four (each costs seconds): every one is reported. `.ci/run` runs
    `lint-imports` on the real tree."""
    for module, upward, _ in UPWARD:
        path = copy_of_mockft / "mockft" / module
        path.write_text(path.read_text() + f"\n{upward}  # upward\n")
    result = lint_imports(copy_of_mockft)
    assert result.returncode == 1
    for module, _, complaint in UPWARD:
        assert complaint in result.stdout, module
