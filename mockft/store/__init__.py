"""Persistence: one document store interface (SQLite on disk, or SQLite in memory)
and a blob store for file bytes."""

from __future__ import annotations

from pathlib import Path

from mockft.store.base import Blobs, BlobWriter, Store
from mockft.store.blobs import DiskBlobs, MemoryBlobs
from mockft.store.sqlite import SqliteStore

__all__ = ["BlobWriter", "Blobs", "DiskBlobs", "MemoryBlobs", "SqliteStore", "Store", "open_stores"]


def open_stores(data_dir: Path | None) -> tuple[Store, Blobs]:
    """The embedded default (`data_dir` given) or a throwaway in-memory pair."""
    if data_dir is None:
        return SqliteStore(":memory:"), MemoryBlobs()
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteStore(data_dir / "mockft.sqlite3"), DiskBlobs(data_dir / "blobs")
