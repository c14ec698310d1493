"""A data dir mockft cannot write (a file where the directory should be, its lock file a
directory, a read-only file system): `mockft serve` and `mockft reset` say so in one line
and exit 2, not with a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mockft.store.lock import LOCK_NAME
from tests.serving import run_cli


def a_file_in_the_way(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.write_text("not a directory")
    return path


def its_lock_a_directory(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    (path / LOCK_NAME).mkdir(parents=True)
    return path


@pytest.mark.parametrize("command", ["serve", "reset"])
@pytest.mark.parametrize("make", [a_file_in_the_way, its_lock_a_directory])
def test_an_unusable_data_dir_is_one_line_and_exit_2(
    tmp_path: Path, command: str, make: Callable[[Path], Path]
) -> None:
    data_dir = make(tmp_path)
    done = run_cli(command, "--data-dir", str(data_dir))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"mockft: the data dir {data_dir} cannot be used: ")
