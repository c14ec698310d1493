"""A file on disk validated on both cores: two byte ranges, one walked in a second process.

The only module of the package that reads files or starts processes; the checks themselves
are the walker's, so the report is byte for byte the one ``validate_file`` makes of the
whole file in one pass. How the two halves agree with one pass:

- the file is cut right after a newline, so each range holds whole lines;
- the second range's walker numbers its lines on from the first range's line count, and
  learns from the file's first example how the format was decided (``Walker.decide_from``);
- duplicates are looked for by the first process only, over both ranges in file order
  (``Walker.fingerprint``): a line's original may be in the other range;
- the first process folds the second's findings into its own (``Walker.absorb``): counts
  add, the first error is the first range's if it has one, each check's first line numbers
  are the first range's then the second's.

The second process is forked once the vocabulary is loaded, so the two share its pages.
It is used only where it pays and is safe: a file of at least ``PARALLEL_MIN_BYTES``, two
usable cores, ``os.fork`` available (not on Windows or macOS) and no other thread running in
this process (a server never forks; ``mockft validate`` does). If the second process fails,
the first walks its range itself: the report is the same either way.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import select
import signal
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from mockft.catalog import FineTuningSpec
from mockft.validation.formats import METHODS, TRAINING_FILE
from mockft.validation.report import ValidationReport
from mockft.validation.walker import Summary, Walker

PARALLEL_MIN_BYTES: Final = 8 * 1024 * 1024
READ_CHUNK_BYTES: Final = 1024 * 1024
PROGRESS_POLL_SECONDS: Final = 0.2
_COUNTER: Final = struct.Struct("Q")  # bytes read by one process, in a shared page

Progress = Callable[[int], None]  # told the bytes read so far, of the whole file


def validate_path(
    path: str | os.PathLike[str],
    *,
    model: str,
    model_spec: FineTuningSpec,
    method: str = METHODS[0],
    purpose: str = TRAINING_FILE,
    source: str = "",
    encoding: str | None = None,
    progress: Progress | None = None,
    processes: int | None = None,
) -> ValidationReport:
    """``validate_file`` of the file at ``path``, on two processes where that pays.

    ``processes``: None decides (see the module); 1 walks in this process; 2 cuts the file
    in two ranges even where it would not pay, walking the second range in this process
    after the first where no second process may be forked."""
    settings: dict[str, Any] = {
        "model": model,
        "model_spec": model_spec,
        "method": method,
        "purpose": purpose,
        "source": source,
        "encoding": encoding,
    }
    path = Path(path)
    size = path.stat().st_size
    cut = _cut(path, size // 2) if _wanted(processes, size) else None
    return _validate(path, size, cut, settings, progress, fork=_may_fork())


def _validate(
    path: Path,
    size: int,
    cut: int | None,
    settings: dict[str, Any],
    progress: Progress | None,
    *,
    fork: bool,
) -> ValidationReport:
    """The file's report, in one walk (``cut`` None) or in two ranges cut at ``cut`` (the
    second in a forked process if ``fork``)."""
    walker = Walker(**settings)  # loads the vocabulary before any fork
    read = _Reads(progress)
    if cut is None:
        walker.walk(read(path, 0, size, 0))
        return walker.report()
    later: Summary | None = None
    child = _fork_second(path, cut, size, settings, read) if fork else None
    try:
        walker.walk(read(path, 0, cut, 0))
        walker.fingerprint(read.quietly(path, cut, size), _lines_before(path, cut) + 1)
        if child is not None:
            later = child.result(read.show)
            child = None
    finally:
        if child is not None:
            child.stop()
    if later is None:  # no second process, or it failed: this one walks the range
        later = _second_range(path, cut, size, settings, read)
    read.show()  # both ranges done
    walker.absorb(later)
    return walker.report()


# -- the file -----------------------------------------------------------------------------


def _wanted(processes: int | None, size: int) -> bool:
    if processes is not None:
        return processes > 1
    return size >= PARALLEL_MIN_BYTES and _cores() > 1


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on this platform
        return os.cpu_count() or 1


def _may_fork() -> bool:
    """Whether a second process may be forked: never in a process with other threads (a
    lock one of them holds would stay held in the child), nor on macOS (whose system
    libraries are not safe to use in a forked child)."""
    return (
        hasattr(os, "fork")
        and sys.platform != "darwin"
        and threading.active_count() == 1
        and _os_threads() <= 1
    )


def _os_threads() -> int:
    """The process's threads as the kernel counts them (native libraries may start some);
    0 where that cannot be read."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cut(path: Path, near: int) -> int | None:
    """Where the second range starts: right after the first newline at or after ``near``;
    None when no line starts past it."""
    with open(path, "rb") as file:
        file.seek(near)
        offset = near
        while chunk := file.read(READ_CHUNK_BYTES):
            newline = chunk.find(b"\n")
            if newline >= 0:
                start = offset + newline + 1
                return start if file.seek(0, os.SEEK_END) > start else None
            offset += len(chunk)
    return None


def _lines_before(path: Path, end: int) -> int:
    """How many lines the file's first ``end`` bytes hold (they end with a newline)."""
    return sum(chunk.count(b"\n") for chunk in _chunks(path, 0, end))


def _chunks(path: Path, start: int, end: int) -> Iterator[bytes]:
    with open(path, "rb") as file:
        file.seek(start)
        left = end - start
        while left > 0 and (chunk := file.read(min(READ_CHUNK_BYTES, left))):
            left -= len(chunk)
            yield chunk


class _Reads:
    """Reading ranges, counting the bytes each process has walked in a page both share, so
    that the first process can show the progress of both."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.owner = os.getpid()  # the process that shows the progress
        self.shared = mmap.mmap(-1, 2 * _COUNTER.size)  # anonymous: shared across fork

    def __call__(self, path: Path, start: int, end: int, slot: int) -> Iterator[bytes]:
        done = 0
        for chunk in _chunks(path, start, end):
            done += len(chunk)
            _COUNTER.pack_into(self.shared, slot * _COUNTER.size, done)
            if os.getpid() == self.owner:
                self.show()
            yield chunk

    def quietly(self, path: Path, start: int, end: int) -> Iterator[bytes]:
        return _chunks(path, start, end)

    def show(self) -> None:
        if self.progress is not None:
            ours = _COUNTER.unpack_from(self.shared, 0)[0]
            theirs = _COUNTER.unpack_from(self.shared, _COUNTER.size)[0]
            self.progress(ours + theirs)


# -- the second range ---------------------------------------------------------------------


def _second_range(
    path: Path, cut: int, size: int, settings: dict[str, Any], read: _Reads
) -> Summary:
    """The walk of the lines from ``cut`` on, numbered and decided as after the lines
    before (whose duplicates the first walker looks for)."""
    walker = Walker(**settings, first_line=_lines_before(path, cut) + 1, duplicates=False)
    walker.decide_from(_chunks(path, 0, cut))
    walker.walk(read(path, cut, size, 1))
    return walker.summary()


class _Child:
    """The second process, and the pipe its summary comes back through."""

    def __init__(self, pid: int, pipe: int) -> None:
        self.pid = pid
        self.pipe = pipe

    def result(self, waiting: Callable[[], None]) -> Summary | None:
        """Its summary once it is done (``waiting`` is called now and then until then);
        None if it failed."""
        received = bytearray()
        while True:
            ready, _, _ = select.select([self.pipe], [], [], PROGRESS_POLL_SECONDS)
            if not ready:
                waiting()
                continue
            data = os.read(self.pipe, READ_CHUNK_BYTES)
            if not data:
                break
            received += data
        os.close(self.pipe)
        _, status = os.waitpid(self.pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        found = pickle.loads(received)  # from the process this one forked
        return found if isinstance(found, Summary) else None

    def stop(self) -> None:
        """End it early (this process was interrupted)."""
        with contextlib.suppress(OSError):
            os.close(self.pipe)
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)


def _fork_second(
    path: Path, cut: int, size: int, settings: dict[str, Any], read: _Reads
) -> _Child | None:
    """The second range walked in a forked process; None where fork fails."""
    readable, writable = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(readable)
        os.close(writable)
        return None
    if pid:
        os.close(writable)
        return _Child(pid, readable)
    status = 1  # the child: walk, send the summary, exit without running the parent's code
    try:
        os.close(readable)
        data = pickle.dumps(_second_range(path, cut, size, settings, read))
        with os.fdopen(writable, "wb") as out:
            out.write(data)
        status = 0
    finally:
        os._exit(status)
