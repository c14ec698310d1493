"""A fork server ("zygote") for the suite's `python -m mockft ...` processes.

A cold `python -m mockft serve` spends ~0.35 s of CPU starting the interpreter and importing
mockft, Starlette, pydantic and uvicorn before it does anything; the suite starts ~70 of
them. The zygote pays that once per test process: `popen(argv, ...)` asks it for a process,
it forks one from its already-imported interpreter, and the child becomes
`python -m mockft ARGS` (the same `runpy` entry `-m` uses) with the caller's environment,
working directory and stdin/stdout/stderr. The child is a real, separate process with its
own pid: a test signals it (SIGTERM, SIGKILL) and reads its exit status as it would a
`subprocess.Popen` (`ZygoteProcess` has Popen's `pid`, `returncode`, `poll`, `wait`,
`send_signal`, `terminate`, `kill`).

How it is wired:
- The zygote is `python -m tests.zygote FD`, exec'd fresh (so single-threaded: fork copies
  only the calling thread) by the first `popen` of a test process, with that process's
  environment less `MOCKFT_*`. A test process has two, and asks them in turn: a forked
  child keeps its zygote's hash secret (drawn once per interpreter), so a server and its
  immediate restart come from different zygotes and hash strings differently, as two
  exec'd processes do: state that depended on set order would not survive a restart
  test by luck. FD is its end of a SOCK_SEQPACKET socket pair: the channel.
  The zygote imports `PRELOAD`, freezes what it imported out of the collector's sight
  (`gc.freeze`, so children neither scan nor copy it) and answers `ready`.
- A request is one message on the channel: argv, env and cwd as JSON, and four fds
  (`socket.send_fds`): the child's stdin, stdout, stderr and a fresh socket (the report)
  that only this child's news travels on. The zygote forks; the child dup2s the three
  onto 0-2 and runs. The zygote opens a pidfd of the child and sends `{"pid"}` and the pidfd
  on the report; the test signals through the pidfd (`signal.pidfd_send_signal`), so a
  signal never reaches another process that reused the pid.
- The zygote is the child's parent: it waits for it (a pidfd polls readable when its process
  exits), and sends `{"returncode", "cpu"}` on the report: the code as `Popen.returncode`
  has it (-N for a signal N), and the child's CPU time (`children_cpu()` sums them, for
  profiling). `wait()` and `poll()` read that message.
- The channel is the zygote's lifeline: when it closes (the test process exits, however it
  ends) the zygote SIGKILLs the children it still has, reaps them and exits. A test
  process also stops it at exit (`atexit`). Each child also gets SIGKILL if the zygote
  dies (PR_SET_PDEATHSIG), so no server outlives the suite.

What the child resets so that it is `python -m mockft` run fresh: it closes every fd the
zygote holds (the channel, other children's reports and pidfds); signals are as an exec'd
`python` of the test process would have them (what the test process ignores stays ignored,
the rest is reset, then Python's own: SIGPIPE ignored, SIGINT a KeyboardInterrupt; its
signal mask); `os.environ` is the requested environment before mockft reads any of it;
cwd, `sys.argv` and `sys.path[0]` are what `-m` sets; stdout is line-buffered only on a
terminal; `random` is reseeded by Python at fork. At the end it does what the interpreter
does on exit: the exit code of `SystemExit` (a traceback and 1 for any other exception),
joining non-daemon threads, running `atexit` handlers, flushing stdio, then `os._exit`. A
signal that kills it kills only it: the zygote is another process.

`popen` falls back to a real exec (`subprocess.Popen`) for anything else: an argv that is
not `python -m mockft ...`, an environment whose interpreter settings (`PYTHON*`, `LANG`,
`LC_*`) differ from the zygote's, a platform without pidfds, or `MOCKFT_TESTS_EXEC=1`
(every process exec'd, e.g. to compare).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import itertools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

PYTHON_MOCKFT = (sys.executable, "-m", "mockft")
# What `mockft serve` imports, up to its first request (found with `python -X importtime`
# and `sys.modules` at that point): the child imports nothing of it again.
PRELOAD = (
    "mockft.cli",
    "mockft.app",
    "mockft.server",
    "mockft.service",
    "mockft.dashboard",
    "mockft.store",
    "mockft.scenario.loader",
    "mockft.scenario.models",
    "mockft.scenario.rules",
    "mockft.scenario.seed",
    "mockft.scenario.state",
    "importlib.resources.readers",
    "uvicorn.lifespan.on",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.websockets.auto",
    "encodings.idna",
)
EXEC_VARIABLE = "MOCKFT_TESTS_EXEC"
READY = b"ready"
MAX_MESSAGE = 1 << 20
START_SECONDS = 60.0
STOP_SECONDS = 10.0
ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1
_prctl: Any = None  # libc's prctl, in the zygote


def _interpreter_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The variables a Python interpreter reads as it starts (a forked child cannot)."""
    return {k: v for k, v in env.items() if k.startswith(("PYTHON", "LC_")) or k == "LANG"}


def _mockft_free(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith("MOCKFT_")}


# -- the test side ---------------------------------------------------------------------------


class ZygoteProcess:
    """A child of the zygote, seen as `subprocess.Popen` shows a child."""

    def __init__(
        self, args: list[str], pid: int, pidfd: int, report: socket.socket, zygote_pid: int
    ) -> None:
        self.args = args
        self.pid = pid
        self.zygote_pid = zygote_pid  # its parent
        self.returncode: int | None = None
        self.cpu: float | None = None  # user+sys seconds, once it has ended
        self._pidfd = pidfd
        self._report = report

    def poll(self) -> int | None:
        if self.returncode is None and _readable(self._report, 0):
            self._collect()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not _readable(self._report, timeout):
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self._collect()
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                signal.pidfd_send_signal(self._pidfd, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _collect(self) -> None:
        message = self._report.recv(MAX_MESSAGE)
        if not message:
            raise RuntimeError(f"the zygote ended without the exit status of pid {self.pid}")
        ended = json.loads(message)
        self.returncode = int(ended["returncode"])
        self.cpu = float(ended["cpu"])
        _children_cpu.append(self.cpu)
        self._close()

    def _close(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1
        self._report.close()

    def __del__(self) -> None:
        self._close()


def _readable(sock: socket.socket, timeout: float | None) -> bool:
    readable, _, _ = select.select([sock], [], [], timeout)
    return bool(readable)


def _catchable() -> list[signal.Signals]:
    return [s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)]


def _signal_state() -> dict[str, list[int]]:
    """What an exec'd child would inherit of this thread's signals: which are ignored (the
    rest are reset to their default by exec) and which are blocked."""
    return {
        "ignored": [int(s) for s in _catchable() if signal.getsignal(s) == signal.SIG_IGN],
        "blocked": [int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])],
    }


class Zygote:
    """The zygote process of this test process, and its channel."""

    def __init__(self) -> None:
        self.env = _mockft_free(os.environ)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._channel = ours
        self._lock = threading.Lock()
        self._errors = tempfile.TemporaryFile()
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.zygote", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._errors,
                env=self.env,
                cwd=ROOT,
            )
        if not _readable(ours, START_SECONDS) or ours.recv(len(READY)) != READY:
            self.close()
            raise RuntimeError(f"the zygote did not start:\n{self.errors()}")

    def errors(self) -> str:
        self._errors.seek(0)
        return self._errors.read().decode(errors="replace")

    def spawn(
        self, argv: Sequence[str], fds: tuple[int, int, int], env: Mapping[str, str], cwd: str
    ) -> ZygoteProcess:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        request = json.dumps(
            {"argv": list(argv), "env": dict(env), "cwd": cwd, **_signal_state()}
        ).encode()
        with theirs, self._lock:
            socket.send_fds(self._channel, [request], [*fds, theirs.fileno()])
        ours.settimeout(START_SECONDS)
        message, pidfds, _, _ = socket.recv_fds(ours, MAX_MESSAGE, 1)
        ours.settimeout(None)
        if not message or len(pidfds) != 1:
            ours.close()
            raise RuntimeError(f"the zygote did not start {list(argv)}:\n{self.errors()}")
        pid = int(json.loads(message)["pid"])
        return ZygoteProcess(list(argv), pid, pidfds[0], ours, self.process.pid)

    def close(self) -> None:
        """Close the channel: the zygote kills what it still runs and exits."""
        self._channel.close()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._errors.close()


# Two zygotes, taken in turn (see the module's docstring): consecutive children hash strings
# with different secrets.
ZYGOTES = 2
_zygotes: list[Zygote | None] = [None] * ZYGOTES
_turn = itertools.count()
_children_cpu: list[float] = []


def children_cpu() -> float:
    """User+sys CPU seconds of the zygote's children this process saw end. They are the
    zygote's children, not this process's: `getrusage(RUSAGE_CHILDREN)` here counts them
    (and the zygote) only once the zygote has exited, at the end of the process."""
    return sum(_children_cpu)


_zygotes_lock = threading.Lock()


def zygote() -> Zygote:
    """The next of this process's zygotes, each started on first use and stopped when the
    process exits."""
    with _zygotes_lock:
        turn = next(_turn) % ZYGOTES
        forker = _zygotes[turn]
        if forker is None or forker.process.poll() is not None:
            forker = _zygotes[turn] = Zygote()
            atexit.register(forker.close)
        return forker


def forkable(argv: Sequence[str]) -> bool:
    """`argv` is `python -m mockft ...` of this interpreter (and the zygote is not off)."""
    return (
        tuple(argv[: len(PYTHON_MOCKFT)]) == PYTHON_MOCKFT
        and os.environ.get(EXEC_VARIABLE) != "1"
        and hasattr(os, "pidfd_open")
    )


def _fd(stream: int | IO[Any] | None, default: int, stack: contextlib.ExitStack) -> int:
    if stream is None:
        return default
    if stream == subprocess.DEVNULL:
        return stack.enter_context(open(os.devnull, "r+b")).fileno()
    if isinstance(stream, int):
        return stream
    return stream.fileno()


def popen(
    argv: Sequence[str],
    *,
    stdin: int | IO[Any] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> ZygoteProcess | subprocess.Popen[bytes]:
    """`subprocess.Popen(argv, ...)` of these keywords (stdin/stdout/stderr an fd, a file,
    `subprocess.DEVNULL` or None to inherit; stderr also `subprocess.STDOUT`), from the
    zygote where `argv` is `python -m mockft ...` (see `forkable`) in an environment whose
    interpreter settings are the zygote's, else exec'd."""
    environ = dict(os.environ if env is None else env)
    forker = zygote() if forkable(argv) else None
    if forker is None or _interpreter_settings(environ) != _interpreter_settings(forker.env):
        return subprocess.Popen(
            list(argv), stdin=stdin, stdout=stdout, stderr=stderr, env=environ, cwd=cwd
        )
    with contextlib.ExitStack() as stack:
        out = _fd(stdout, 1, stack)
        err = out if stderr == subprocess.STDOUT else _fd(stderr, 2, stack)
        fds = (_fd(stdin, 0, stack), out, err)
        return forker.spawn(argv, fds, environ, os.fspath(cwd or os.getcwd()))


def run(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(argv, capture_output=True, text=True, ...)`, from the zygote where
    it can be (stdout and stderr go through files rather than pipes: neither is a tty
    either way, so the output is buffered alike)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = popen(argv, stdout=out, stderr=err, env=env)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        texts = []
        for stream in (out, err):
            stream.seek(0)
            text = stream.read().decode()  # as `text=True` reads it
            texts.append(text.replace("\r\n", "\n").replace("\r", "\n"))
    return subprocess.CompletedProcess(list(argv), code, texts[0], texts[1])


# -- the zygote side -------------------------------------------------------------------------


def _serve(channel_fd: int) -> None:
    global _prctl
    import ctypes

    _prctl = ctypes.CDLL(None, use_errno=True).prctl
    # Ctrl-C reaches the whole process group: the test process ends on it, which closes the
    # channel, and the zygote then ends its children in order (a child resets the handler).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in PRELOAD:
        importlib.import_module(name)
    # What is imported stays: the collector need not look at it in every child (which would
    # also copy every page it touches), as Python's docs advise before forking workers.
    gc.collect()
    gc.freeze()
    channel = socket.socket(fileno=channel_fd)
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd: (pid, report)
    poller = select.poll()  # no fd of its own: nothing for a child to close
    poller.register(channel, select.POLLIN)
    channel.send(READY)
    while True:
        for fd, _ in poller.poll():
            if fd != channel.fileno():
                _reap(fd, children, poller)
                continue
            try:
                message, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, 4)
            except OSError:
                message = b""
            if not message:  # the test process is gone or done
                _end(children, poller)
                return
            _spawn(json.loads(message), fds, channel, children, poller)


def _spawn(
    request: dict[str, Any],
    fds: list[int],
    channel: socket.socket,
    children: dict[int, tuple[int, socket.socket]],
    poller: select.poll,
) -> None:
    *stdio, report_fd = fds
    report = socket.socket(fileno=report_fd)
    if threading.active_count() != 1:
        raise RuntimeError("the zygote must be single-threaded to fork")
    sys.stdout.flush()
    sys.stderr.flush()
    zygote_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        _child(request, stdio, [channel, report], children, zygote_pid)
    for fd in stdio:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    children[pidfd] = (pid, report)
    poller.register(pidfd, select.POLLIN)
    with contextlib.suppress(OSError):  # the test side may have gone: it is reaped anyway
        socket.send_fds(report, [json.dumps({"pid": pid}).encode()], [pidfd])


def _reap(pidfd: int, children: dict[int, tuple[int, socket.socket]], poller: select.poll) -> None:
    """Wait for the child (it has ended, or is about to), and report how it ended."""
    poller.unregister(pidfd)
    pid, report = children.pop(pidfd)
    _, status, usage = os.wait4(pid, 0)
    os.close(pidfd)
    ended = {
        "returncode": os.waitstatus_to_exitcode(status),
        "cpu": usage.ru_utime + usage.ru_stime,
    }
    with report, contextlib.suppress(OSError):
        report.send(json.dumps(ended).encode())


def _end(children: dict[int, tuple[int, socket.socket]], poller: select.poll) -> None:
    """SIGKILL to every child still running, each reaped and reported."""
    for pidfd in children:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    for pidfd in list(children):
        _reap(pidfd, children, poller)


def _child(
    request: dict[str, Any],
    stdio: list[int],
    held: list[socket.socket],
    children: dict[int, tuple[int, socket.socket]],
    zygote_pid: int,
) -> NoReturn:
    code = 1
    try:
        _die_with(zygote_pid)
        for sock in held:
            sock.close()
        for pidfd, (_, report) in children.items():
            os.close(pidfd)
            report.close()
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        for fd in set(stdio):
            os.close(fd)
        _inherit_signals(request["ignored"], request["blocked"])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = os.getcwd()  # `python -m` puts the working directory first
        sys.stdout.reconfigure(line_buffering=os.isatty(1))  # type: ignore[union-attr]
        code = _run_module(request["argv"][len(PYTHON_MOCKFT) :])
    finally:
        os._exit(code)


def _inherit_signals(ignored: list[int], blocked: list[int]) -> None:
    """The signal dispositions of `python` exec'd by the test process: what it ignores stays
    ignored, the rest is reset; then Python's own at start (SIGPIPE and SIGXFSZ ignored,
    SIGINT raising KeyboardInterrupt unless it is ignored); the test process's mask."""
    for signum in _catchable():
        with contextlib.suppress(OSError, ValueError):  # the C library's own
            signal.signal(signum, signal.SIG_IGN if signum in ignored else signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    if signal.SIGINT not in ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _die_with(zygote_pid: int) -> None:
    """SIGKILL when the zygote dies (or now, if it died already)."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != zygote_pid:
        os._exit(1)


def _run_module(args: list[str]) -> int:
    """`python -m mockft ARGS`, to the exit code the interpreter would end with."""
    import runpy

    sys.argv = ["-m", *args]
    code = 0
    try:
        runpy.run_module("mockft", run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        code = _exit_code(exit.code)
    except KeyboardInterrupt:
        _finish()
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # how Python ends on Ctrl-C
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    return _finish(code)


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def _finish(code: int = 0) -> int:
    """What the interpreter does before it exits: wait for non-daemon threads, run the
    `atexit` handlers, flush stdout and stderr (120 where that fails)."""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120
    return code


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
