"""The zygote the suite forks its `python -m mockft` processes from (tests/zygote.py) gives
what an exec'd process gives: the same exit code and output, a separate process that a
signal kills alone, no fd of the zygote's, and nothing left running once it is closed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests import zygote
from tests.conftest import NO_PRELOAD
from tests.serving import ForkedServeProcess, clean_env

PYTHON_MOCKFT = [sys.executable, "-m", "mockft"]


def fd_targets(pid: int) -> set[str]:
    fds = Path(f"/proc/{pid}/fd")
    targets = set()
    for fd in fds.iterdir():
        try:
            targets.add(os.readlink(fd))
        except FileNotFoundError:  # closed while listed
            pass
    return targets


def test_a_forked_cli_run_ends_as_the_exec_d_one(tmp_path: Path) -> None:
    argv = [*PYTHON_MOCKFT, "serve", "--port", "not-a-port"]
    forked = zygote.run(argv, env=clean_env(), timeout=60)
    execd = subprocess.run(argv, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        execd.returncode,
        execd.stdout,
        execd.stderr,
    )
    assert forked.returncode == 2 and "invalid int value" in forked.stderr


def test_consecutive_children_come_from_different_zygotes() -> None:
    """So that a server and its restart hash strings with different secrets."""
    argv = [*PYTHON_MOCKFT, "--version"]
    first, second = (
        zygote.popen(argv, stdout=subprocess.DEVNULL, env=clean_env()) for _ in range(2)
    )
    assert isinstance(first, zygote.ZygoteProcess) and isinstance(second, zygote.ZygoteProcess)
    assert first.wait(timeout=60) == second.wait(timeout=60) == 0
    assert first.zygote_pid != second.zygote_pid


def test_children_are_separate_processes_and_the_zygote_survives_them() -> None:
    own = zygote.Zygote()  # not the suite's: this one is closed below
    spawned: list[zygote.ZygoteProcess] = []
    try:

        def serve(port: int) -> zygote.ZygoteProcess:
            argv = [*PYTHON_MOCKFT, "serve", "--memory", "--port", str(port)]
            child = own.spawn(argv, (0, 1, 2), clean_env(NO_PRELOAD), os.getcwd())
            spawned.append(child)
            return child

        first = ForkedServeProcess("--memory", env=NO_PRELOAD)
        first.process = serve(first.port)  # type: ignore[assignment]
        first.wait_healthy()
        second = ForkedServeProcess("--memory", env=NO_PRELOAD)
        second.process = serve(second.port)  # type: ignore[assignment]
        second.wait_healthy()
        pids = {own.process.pid, spawned[0].pid, spawned[1].pid}
        assert len(pids) == 3

        # the second was forked while the zygote held the first's report and pidfd: it has
        # none of them, nor the zygote's channel
        held = {t for t in fd_targets(own.process.pid) if t.startswith(("socket:", "anon_inode"))}
        assert held and not held & fd_targets(spawned[1].pid)
        assert "anon_inode:[pidfd]" not in fd_targets(spawned[1].pid)

        assert first.kill9() == -signal.SIGKILL
        assert own.process.poll() is None  # the zygote lives on
        assert second.healthy()
        assert second.stop() == -signal.SIGTERM  # as uvicorn ends an exec'd server

        third = serve(second.port)
        assert third.poll() is None
    finally:
        own.close()
    assert own.process.returncode == 0
    assert spawned[2].wait(timeout=10) == -signal.SIGKILL  # killed as the zygote closed
    for child in spawned:
        assert not Path(f"/proc/{child.pid}").exists()  # reaped: no zombie, no orphan
