"""Persistence: one document store interface (SQLite on disk, or SQLite in memory), a blob
store for file bytes, and the lock that keeps a data dir to one server."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mockft.store import disk
from mockft.store.base import Blobs, BlobWriter, Store
from mockft.store.blobs import DiskBlobs, MemoryBlobs
from mockft.store.lock import DataDirLock, DataDirLocked
from mockft.store.sqlite import SqliteStore

__all__ = [
    "BlobWriter",
    "Blobs",
    "DataDirLock",
    "DataDirLocked",
    "DataDirUnusable",
    "DiskBlobs",
    "MemoryBlobs",
    "SqliteStore",
    "Store",
    "Stores",
    "open_stores",
]


@dataclass
class Stores:
    store: Store
    blobs: Blobs
    lock: DataDirLock | None = None

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            if self.lock is not None:
                self.lock.release()


def open_stores(data_dir: Path | None) -> Stores:
    """The embedded default (`data_dir` given) or a throwaway in-memory pair. A data dir is
    locked first, before anything in it is read or cleaned: `DataDirLocked` if another
    process holds it."""
    if data_dir is None:
        return Stores(SqliteStore(":memory:"), MemoryBlobs())
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        disk.start()
        lock = DataDirLock(data_dir)
    except OSError as exc:  # read-only, not a directory, no permission
        raise DataDirUnusable(data_dir, exc) from exc
    try:
        return Stores(SqliteStore(data_dir / "mockft.sqlite3"), DiskBlobs(data_dir / "blobs"), lock)
    except (OSError, sqlite3.Error) as exc:
        lock.release()
        raise DataDirUnusable(data_dir, exc) from exc
    except BaseException:
        lock.release()
        raise


class DataDirUnusable(Exception):
    """The data dir cannot be opened for writing (a read-only file system, a file in the
    way, no permission): said in one line, not as a traceback."""

    def __init__(self, data_dir: Path, cause: OSError | sqlite3.Error) -> None:
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        super().__init__(f"the data dir {data_dir} cannot be used: {reason}")
        self.data_dir = data_dir
