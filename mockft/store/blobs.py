"""File bytes, written and read in bounded chunks. Keys are our own ids, never
user-supplied names, so nothing a client sends becomes a path."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 1024 * 1024
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _checked(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise ValueError(f"invalid blob key: {key!r}")
    return key


class DiskBlobWriter:
    def __init__(self, final: Path, temp: Path) -> None:
        self._final = final
        self._temp = temp
        self._file: BinaryIO = open(temp, "wb")  # noqa: SIM115 - closed in commit/abort
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._size += len(chunk)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temp, self._final)

    def abort(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)


class DiskBlobs:
    """`<root>/<key>` for committed bytes; `<root>/.partial/` for writes in flight,
    emptied at start-up (a kill -9 mid-upload leaves nothing acknowledged there)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._partial = root / ".partial"
        shutil.rmtree(self._partial, ignore_errors=True)
        self._partial.mkdir(parents=True, exist_ok=True)

    def writer(self, key: str) -> DiskBlobWriter:
        key = _checked(key)
        return DiskBlobWriter(self._root / key, self._partial / f"{key}.{os.getpid()}")

    def read(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        with open(self._root / _checked(key), "rb") as f:
            while chunk := f.read(chunk_size):
                yield chunk

    def size(self, key: str) -> int | None:
        try:
            return (self._root / _checked(key)).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        (self._root / _checked(key)).unlink(missing_ok=True)

    def keys(self) -> set[str]:
        return {entry.name for entry in self._root.iterdir() if entry.is_file()}

    def clear(self) -> None:
        for entry in self._root.iterdir():
            if entry.is_file():
                entry.unlink()


class MemoryBlobWriter:
    def __init__(self, blobs: dict[str, bytes], key: str) -> None:
        self._blobs = blobs
        self._key = key
        self._parts: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def write(self, chunk: bytes) -> None:
        self._parts.append(chunk)
        self._size += len(chunk)

    def commit(self) -> None:
        self._blobs[self._key] = b"".join(self._parts)
        self._parts = []

    def abort(self) -> None:
        self._parts = []


class MemoryBlobs:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def writer(self, key: str) -> MemoryBlobWriter:
        return MemoryBlobWriter(self._blobs, _checked(key))

    def read(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        data = self._blobs[key]
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    def size(self, key: str) -> int | None:
        data = self._blobs.get(key)
        return None if data is None else len(data)

    def delete(self, key: str) -> None:
        self._blobs.pop(key, None)

    def keys(self) -> set[str]:
        return set(self._blobs)

    def clear(self) -> None:
        self._blobs.clear()
