"""One server per data dir: an exclusive `flock` on `<data dir>/mockft.lock`, taken before
anything in the dir is read or touched and held for the life of the server. The holder
writes its pid into the file so that a second server can say whom it collided with.

The lock belongs to the open file: the kernel drops it when the holder exits, however it
exits (kill -9 included), so a stale lock file never keeps a data dir locked."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, no guard
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "mockft.lock"


class DataDirLocked(Exception):
    """Another process serves (or resets) this data dir."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid is not None else "a process whose pid is unknown"
        super().__init__(f"the data dir {data_dir} is in use by another mockft ({holder})")
        self.data_dir = data_dir
        self.pid = pid


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is None:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(self._fd)
            os.close(self._fd)
            self._fd = None
            raise DataDirLocked(data_dir, pid) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor drops the lock


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
