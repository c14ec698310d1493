"""The blob stores: bytes written in chunks, and files composed of an Upload's parts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mockft.store.base import Blobs
from mockft.store.blobs import DiskBlobs, MemoryBlobs

PARTS = {"part_a": b"first\n", "part_b": b"second\n" * 1000, "part_c": b"third"}
Store = DiskBlobs | MemoryBlobs


def _put(blobs: Blobs, key: str, data: bytes) -> None:
    writer = blobs.writer(key)
    writer.write(data)
    writer.commit()


@pytest.fixture(params=["disk", "memory"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    store: Store = DiskBlobs(tmp_path / "blobs") if request.param == "disk" else MemoryBlobs()
    for key, data in PARTS.items():
        _put(store, key, data)
    return store


def test_a_composed_blob_reads_as_its_parts_in_the_order_given(blobs: Store) -> None:
    blobs.compose("file-x", ["part_c", "part_a", "part_b"])
    whole = PARTS["part_c"] + PARTS["part_a"] + PARTS["part_b"]
    assert b"".join(blobs.read("file-x", 1000)) == whole
    assert blobs.size("file-x") == len(whole)
    assert blobs.keys() == {"file-x", *PARTS}


def test_deleting_the_parts_keeps_the_composed_blob(blobs: Store) -> None:
    blobs.compose("file-x", ["part_a", "part_b"])
    for key in PARTS:
        blobs.delete(key)
    assert b"".join(blobs.read("file-x")) == PARTS["part_a"] + PARTS["part_b"]
    assert blobs.keys() == {"file-x"}
    blobs.delete("file-x")
    assert blobs.keys() == set()
    assert blobs.size("file-x") is None


def test_clear_removes_composed_blobs_too(blobs: Store) -> None:
    blobs.compose("file-x", ["part_a"])
    blobs.clear()
    assert blobs.keys() == set()


def test_disk_composition_links_rather_than_copies(tmp_path: Path) -> None:
    blobs = DiskBlobs(tmp_path)
    _put(blobs, "part_a", b"x" * 4096)
    blobs.compose("file-x", ["part_a"])
    assert os.stat(tmp_path / "part_a").st_nlink == 2  # one inode: the bytes exist once


def test_disk_composition_copies_where_links_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = DiskBlobs(tmp_path)
    _put(blobs, "part_a", b"abc")
    _put(blobs, "part_b", b"def")

    def refuse(*args: object) -> None:
        raise PermissionError("no hard links here")

    monkeypatch.setattr(os, "link", refuse)
    blobs.compose("file-x", ["part_a", "part_b"])
    assert b"".join(blobs.read("file-x")) == b"abcdef"


def test_a_failed_composition_leaves_nothing(tmp_path: Path) -> None:
    blobs = DiskBlobs(tmp_path)
    _put(blobs, "part_a", b"abc")
    with pytest.raises(FileNotFoundError):
        blobs.compose("file-x", ["part_a", "part_missing"])
    assert blobs.keys() == {"part_a"}
    assert list((tmp_path / ".partial").iterdir()) == []


def test_composition_cut_short_is_swept_at_start_up(tmp_path: Path) -> None:
    blobs = DiskBlobs(tmp_path)
    _put(blobs, "part_a", b"abc")
    debris = tmp_path / ".partial" / "file-x.1234"  # what a kill -9 before the rename leaves
    debris.mkdir()
    os.link(tmp_path / "part_a", debris / "000000")
    assert DiskBlobs(tmp_path).keys() == {"part_a"}
    assert not debris.exists()
    assert os.stat(tmp_path / "part_a").st_nlink == 1


def test_start_up_sweeps_a_composed_file_no_record_owns(tmp_path: Path) -> None:
    """A kill -9 between composing an Upload's File and recording it: the File's bytes go,
    the parts (still recorded, the upload still pending) stay whole."""
    from mockft.config import Settings
    from mockft.service import Service
    from mockft.service.uploads import PART

    settings = Settings(data_dir=tmp_path, clock="manual")
    service = Service.open(settings)
    service.store.insert(PART, "part_a", "org-x", {"id": "part_a"}, tag="upload_x")
    _put(service.blobs, "part_a", b"abc")
    service.blobs.compose("file-orphan", ["part_a"])
    service.close()

    reopened = Service.open(settings)
    assert reopened.blobs.keys() == {"part_a"}
    assert b"".join(reopened.blobs.read("part_a")) == b"abc"
    reopened.close()


def test_disk_writer_keeps_every_byte_in_order_however_it_is_chunked(tmp_path: Path) -> None:
    blobs = DiskBlobs(tmp_path)
    data = bytes(range(256)) * 40  # 10,240 bytes
    writer = blobs.writer("file-x")
    for i in range(0, 2000):  # more single bytes than one gathered write may carry
        writer.write(data[i : i + 1])
    writer.write(data[2000:])
    assert writer.size == len(data)
    writer.commit()
    assert b"".join(blobs.read("file-x")) == data


def test_a_short_gathered_write_goes_on_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockft.store import blobs as module

    def writev_five_bytes(fd: int, buffers: list[bytes]) -> int:
        return os.write(fd, b"".join(buffers)[:5])

    monkeypatch.setattr(os, "writev", writev_five_bytes)
    target = tmp_path / "out"
    with open(target, "wb", buffering=0) as f:
        module._write_all(f.fileno(), [b"abc", b"defgh", b"ij"])
    assert target.read_bytes() == b"abcdefghij"


def test_an_aborted_write_leaves_nothing(tmp_path: Path) -> None:
    blobs = DiskBlobs(tmp_path)
    writer = blobs.writer("file-x")
    writer.write(b"x" * (3 * 1024 * 1024))
    writer.abort()
    assert blobs.keys() == set()
    assert list((tmp_path / ".partial").iterdir()) == []


def test_a_write_that_fails_at_commit_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = DiskBlobs(tmp_path)
    writer = blobs.writer("file-x")
    writer.write(b"abc")

    def disk_full(fd: int, buffers: list[bytes]) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "writev", disk_full)
    with pytest.raises(OSError, match="No space left"):
        writer.commit()
    assert blobs.keys() == set()
    assert list((tmp_path / ".partial").iterdir()) == []
