"""File bytes, written and read in bounded chunks. Keys are our own ids, never
user-supplied names, so nothing a client sends becomes a path."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, BinaryIO

from mockft.store import disk

CHUNK_SIZE = 1024 * 1024
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _checked(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise ValueError(f"invalid blob key: {key!r}")
    return key


# Writes go to the disk on the disk threads (`store.disk`), one batch in flight per writer,
# so that copying a batch into the page cache overlaps with receiving the next (both hold
# the GIL only briefly).
BATCH_BYTES = 1024 * 1024  # chunks go to the thread in batches of this many bytes ...
BATCH_BUFFERS = 512  # ... or this many chunks (one writev takes at most IOV_MAX, 1024)


def _write_all(fd: int, buffers: list[bytes]) -> None:
    """One gathered write (no joining copy); a short write goes on from where it stopped."""
    written = os.writev(fd, buffers) if hasattr(os, "writev") else 0
    for buffer in buffers:
        if written >= len(buffer):
            written -= len(buffer)
            continue
        view = memoryview(buffer)[written:]
        while view:
            view = view[os.write(fd, view) :]
        written = 0


_DISCARDS = itertools.count()


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _rename(source: Path, target: Path) -> None:
    os.replace(source, target)


def _create(path: Path) -> BinaryIO:
    return open(path, "wb", buffering=0)  # noqa: SIM115 - closed in commit/abort


class DiskBlobWriter:
    """A blob's bytes on their way to the disk. Its file is created on a disk thread too
    (creating a name waits for the filesystem's journal, which waits behind whatever the
    disk is writing): `in_flight` is that creation until the first batch goes."""

    def __init__(self, final: Path, temp: Path) -> None:
        self._final = final
        self._temp = temp
        self._creating = disk.submit(_create, temp)
        self._size = 0
        self._batch: list[bytes] = []
        self._batch_size = 0
        self._in_flight: Future[Any] | None = self._creating
        self._durable = False  # everything written so far is on the disk (`flush`)
        self._publishing: Future[None] | None = None

    @property
    def _file(self) -> BinaryIO:
        return disk.wait(self._creating)

    @property
    def size(self) -> int:
        return self._size

    @property
    def in_flight(self) -> Future[Any] | None:
        return self._in_flight

    def _settle(self) -> None:
        """Wait for the batch in flight; its error (a full disk) is raised here."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            disk.wait(in_flight)

    def _hand_over(self) -> None:
        self._settle()
        if self._batch:
            batch, self._batch, self._batch_size = self._batch, [], 0
            self._in_flight = disk.submit(_write_all, self._file.fileno(), batch)

    def write(self, chunk: bytes) -> None:
        self._durable = False
        self._batch.append(chunk)
        self._batch_size += len(chunk)
        self._size += len(chunk)
        if self._batch_size >= BATCH_BYTES or len(self._batch) >= BATCH_BUFFERS:
            self._hand_over()

    def flush(self) -> None:
        """Blocking, and may run on a disk thread itself: the last batch is written here,
        not handed to another disk thread to wait for (with every disk thread flushing,
        none would be left to write)."""
        self._settle()  # (a batch or the creation handed over earlier: under way already)
        if self._batch:
            batch, self._batch, self._batch_size = self._batch, [], 0
            _write_all(self._file.fileno(), batch)
        os.fsync(self._file.fileno())
        self._durable = True

    def commit(self) -> None:
        disk.wait(self.publish())

    def publish(self) -> Future[None]:
        if self._publishing is None:
            self._publishing = disk.submit(self._publish)
        return self._publishing

    def _publish(self) -> None:
        try:
            if not self._durable:
                self.flush()
            self._file.close()
            _rename(self._temp, self._final)
        except BaseException:  # a full disk, say: nothing half-written stays behind
            self.abort()
            raise

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # what failed no longer matters: it all goes
            self._settle()
        with contextlib.suppress(Exception):  # (a file that could not be created is not open)
            self._file.close()
        self._temp.unlink(missing_ok=True)


class _SegmentReader:
    """Chunks of a blob's segments in order. The first segment is opened at once, so a
    blob deleted while it is read (a download racing a DELETE) is still read whole: an
    open file outlives its name. Closed when exhausted, closed, or collected."""

    def __init__(self, segments: list[Path], chunk_size: int) -> None:
        self._rest = segments[1:]
        self._chunk_size = chunk_size
        self._file: BinaryIO | None = None  # first: a reader that cannot open still closes
        if segments:
            self._file = open(segments[0], "rb")  # noqa: SIM115

    def __iter__(self) -> _SegmentReader:
        return self

    def __next__(self) -> bytes:
        while self._file is not None:
            chunk = self._file.read(self._chunk_size)
            if chunk:
                return chunk
            self._file.close()
            self._file = open(self._rest.pop(0), "rb") if self._rest else None  # noqa: SIM115
        raise StopIteration

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __del__(self) -> None:
        self.close()


class DiskBlobs:
    """`<root>/<key>` for committed bytes (a file, or for a composed blob a directory of
    numbered segments); `<root>/.partial/` for writes in flight, emptied at start-up (a
    kill -9 mid-upload leaves nothing acknowledged there).

    A discarded key is gone at once for every reader (`size`, `read`, `keys`) while its
    name is moved into `.partial/` on a disk thread (a rename waits for the filesystem's
    journal, behind whatever the disk is writing); a key written again meanwhile (ids start
    over after a reset) waits for that move first."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._partial = root / ".partial"
        shutil.rmtree(self._partial, ignore_errors=True)
        self._partial.mkdir(parents=True, exist_ok=True)
        self._discarding: dict[str, tuple[int, Future[None]]] = {}
        self._lock = threading.Lock()

    def writer(self, key: str) -> DiskBlobWriter:
        key = _checked(key)
        self._moved_aside(key)
        return DiskBlobWriter(self._root / key, self._partial / f"{key}.{os.getpid()}")

    def _moved_aside(self, key: str) -> None:
        """Wait for a discard of `key` to have moved its name away (rare: a key written
        again right after it was discarded)."""
        pending = self._discarding.get(key)
        if pending is not None:
            disk.wait(pending[1])

    def compose(self, key: str, parts: Sequence[str]) -> None:
        """Commit `key` as the concatenation of `parts` without copying their bytes: a
        directory of hard links to them, moved into place in one rename. The parts' own
        keys are untouched (delete them when they are no longer wanted); a kill -9 before
        the rename leaves only `.partial/` debris, which start-up removes."""
        target = self._root / _checked(key)
        self._moved_aside(key)
        temp = self._partial / f"{key}.{os.getpid()}"
        temp.mkdir()
        try:
            for index, part in enumerate(parts):
                source, segment = self._root / _checked(part), temp / f"{index:06d}"
                try:
                    os.link(source, segment)
                except OSError:  # a filesystem without hard links: copy (in the kernel)
                    shutil.copyfile(source, segment)
            os.replace(temp, target)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise

    def _segments(self, key: str) -> list[Path]:
        path = self._root / _checked(key)
        if key in self._discarding:
            raise FileNotFoundError(path)
        return sorted(path.iterdir()) if path.is_dir() else [path]

    def read(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The bytes in chunks. The first segment is opened now, so a blob deleted while
        it is being read (a download racing a DELETE) is read whole: an open file outlives
        its name."""
        return _SegmentReader(self._segments(key), chunk_size)

    def size(self, key: str) -> int | None:
        try:
            return sum(segment.stat().st_size for segment in self._segments(key))
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        _remove(self._root / _checked(key))

    def discard(self, key: str) -> Future[None] | None:
        path = self._root / _checked(key)
        with self._lock:
            pending = self._discarding.get(key)
            if pending is not None:
                return pending[1]
            number = next(_DISCARDS)
            doomed = self._partial / f"{key}.deleted.{os.getpid()}.{number}"
            removal = disk.submit(self._free, key, number, path, doomed)
            self._discarding[key] = (number, removal)
        return removal

    def _free(self, key: str, number: int, path: Path, doomed: Path) -> None:
        """On a disk thread: the name moved aside, then the bytes freed."""
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return
        finally:
            with self._lock:
                if self._discarding.get(key, (None,))[0] == number:
                    del self._discarding[key]
        _remove(doomed)

    def keys(self) -> set[str]:
        with self._lock:  # before listing: a discard done meanwhile has moved its name
            discarding = set(self._discarding)
        listed = {entry.name for entry in self._root.iterdir() if entry != self._partial}
        return listed - discarding

    def clear(self) -> None:
        """Every key goes at once; the bytes are freed on the disk threads."""
        for key in self.keys():
            self.discard(key)


class MemoryBlobWriter:
    def __init__(self, blobs: dict[str, bytes], key: str) -> None:
        self._blobs = blobs
        self._key = key
        self._parts: list[bytes] = []
        self._published: Future[None] | None = None
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    @property
    def in_flight(self) -> Future[None] | None:
        return None  # nothing goes to a disk

    def write(self, chunk: bytes) -> None:
        self._parts.append(chunk)
        self._size += len(chunk)

    def flush(self) -> None:
        pass  # memory is as durable as it gets

    def commit(self) -> None:
        self._blobs[self._key] = b"".join(self._parts)
        self._parts = []

    def publish(self) -> Future[None]:
        if self._published is None:
            self.commit()
            self._published = Future()
            self._published.set_result(None)
        return self._published

    def abort(self) -> None:
        self._parts = []


class MemoryBlobs:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def writer(self, key: str) -> MemoryBlobWriter:
        return MemoryBlobWriter(self._blobs, _checked(key))

    def compose(self, key: str, parts: Sequence[str]) -> None:
        self._blobs[_checked(key)] = b"".join(self._blobs[part] for part in parts)

    def read(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        data = self._blobs[key]
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    def size(self, key: str) -> int | None:
        data = self._blobs.get(key)
        return None if data is None else len(data)

    def delete(self, key: str) -> None:
        self._blobs.pop(key, None)

    def discard(self, key: str) -> Future[None] | None:
        self.delete(key)
        return None

    def keys(self) -> set[str]:
        return set(self._blobs)

    def clear(self) -> None:
        self._blobs.clear()
