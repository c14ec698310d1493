"""Whatever waits for the filesystem waits on a disk thread, never on the event loop:
creating a blob's file, and freeing the bytes of Upload parts (completed, cancelled or
expired), of a fine-tune file refused at upload, and of everything a reset forgets. An
unlink waits for the file's pages, and creating a name waits for the filesystem's journal:
both take seconds behind a large upload's writes, which would stall every other request.
The names go at once (into `.partial/`); the bytes follow on a disk thread."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

import openai
import pytest

from mockft.config import Settings
from mockft.service import uploads
from mockft.store import blobs
from tests.conftest import (
    API_KEY,
    Server,
    calls_on_a_loop,
    checked_sdk,
    in_process,
    make_settings,
    raw_http,
    running_a_loop,
)
from tests.test_uploads import PARTS, WHOLE, blob_names, create

T = TypeVar("T")
WAIT_SECONDS = 10  # for the disk threads or the loop (not a timing assertion)


class Removals:
    """Every blob removal: whether it ran on an event loop."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.partial = server.settings.data_dir / "blobs" / ".partial"
        self.on_a_loop: list[bool] = []

    def done(self) -> list[bool]:
        """Once the disk threads have moved aside and freed everything handed to them."""
        deadline = time.monotonic() + WAIT_SECONDS
        moving = lambda: blob_names(self.server) != self.server.service.blobs.keys()  # noqa: E731
        while any(self.partial.iterdir()) or moving():
            assert time.monotonic() < deadline, list(self.partial.iterdir())
            time.sleep(0.01)
        return self.on_a_loop


@pytest.fixture
def removals(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Removals]:
    recorded = Removals(server)
    recorded.on_a_loop = calls_on_a_loop(monkeypatch, blobs, "_remove")
    yield recorded


def upload_parts(client: openai.OpenAI) -> tuple[str, list[str]]:
    upload_id = create(client)
    return upload_id, [client.uploads.parts.create(upload_id, data=p).id for p in PARTS]


def test_a_cancelled_uploads_parts_are_freed_off_the_event_loop(
    server: Server, client: openai.OpenAI, removals: Removals
) -> None:
    upload_id, part_ids = upload_parts(client)
    assert blob_names(server) == set(part_ids)
    assert client.uploads.cancel(upload_id).status == "cancelled"
    assert server.service.blobs.keys() == set()  # gone at once for every reader ...
    assert removals.done() == [False] * 3  # ... and moved aside and freed on a disk thread
    assert blob_names(server) == set()


def test_a_completed_uploads_parts_are_unlinked_off_the_event_loop(
    server: Server, client: openai.OpenAI, removals: Removals
) -> None:
    upload_id, part_ids = upload_parts(client)
    done = client.uploads.complete(upload_id, part_ids=part_ids)
    assert done.file is not None
    assert server.service.blobs.keys() == {done.file.id}
    assert removals.done() == [False] * 3
    assert blob_names(server) == {done.file.id}
    assert client.files.content(done.file.id).content == WHOLE


def test_an_expired_uploads_parts_are_freed_off_the_event_loop(
    server: Server, client: openai.OpenAI, removals: Removals
) -> None:
    upload_parts(client)
    server.advance(3601)
    create(client)  # creating an upload reclaims what expired
    assert server.service.blobs.keys() == set()  # gone at once for readers
    assert removals.done() == [False] * 3
    assert blob_names(server) == set()


def test_a_refused_fine_tune_files_bytes_are_freed_off_the_event_loop(
    server: Server, client: openai.OpenAI, removals: Removals
) -> None:
    with pytest.raises(openai.BadRequestError):
        client.files.create(file=("t.jsonl", b"[1, 2]\n"), purpose="fine-tune")
    assert server.service.blobs.keys() == set()  # gone at once for readers
    assert removals.done() == [False]
    assert blob_names(server) == set()


def test_a_resets_bytes_are_freed_off_the_event_loop(
    server: Server, client: openai.OpenAI, removals: Removals
) -> None:
    for n in range(3):
        client.files.create(file=(f"{n}.jsonl", PARTS[n]), purpose="fine-tune")
    with raw_http(server, API_KEY, base_url=server.root_url) as http:
        assert http.post("/mockft/reset").status_code == 200
    assert server.service.blobs.keys() == set()  # gone at once for readers
    assert removals.done() == [False] * 3
    assert blob_names(server) == set()


def test_a_blobs_file_is_created_off_the_event_loop(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_a_loop = calls_on_a_loop(monkeypatch, blobs, "_create")
    client.files.create(file=("t.jsonl", PARTS[0]), purpose="fine-tune")
    upload_id = create(client)
    client.uploads.parts.create(upload_id, data=PARTS[1])
    assert on_a_loop == [False, False]


def test_bytes_still_being_freed_never_meet_a_reused_id(
    server: Server, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reset restarts the id sequences: the next File has the id of one whose bytes a
    disk thread has not freed yet. Those bytes are under another name by then."""
    release = threading.Event()
    real_remove = blobs._remove

    def held_remove(path: Path) -> None:
        release.wait(WAIT_SECONDS)
        real_remove(path)

    monkeypatch.setattr(blobs, "_remove", held_remove)
    file = client.files.create(file=("t.jsonl", PARTS[0]), purpose="fine-tune")
    with raw_http(server, API_KEY, base_url=server.root_url) as control:
        assert control.post("/mockft/reset").status_code == 200
    again = client.files.create(file=("t.jsonl", PARTS[1]), purpose="fine-tune")
    assert again.id == file.id
    release.set()
    assert Removals(server).done() == []
    assert client.files.content(again.id).content == PARTS[1]


class Inline:
    """A stand-in for the disk threads that runs a task at once, where it is called."""

    @staticmethod
    def submit(task: Callable[[], T]) -> Future[T]:
        done: Future[T] = Future()
        done.set_result(task())
        return done


def completion_ids(settings: Settings, hold_seconds: float) -> tuple[list[str], list[bool]]:
    """The File ids of a completion and of the next upload, with the composing of the
    completion's bytes held back `hold_seconds` (so that the completion waits for it, and is
    run again when it is done); and whether each composing ran on an event loop."""
    on_a_loop: list[bool] = []
    with in_process(settings) as server, checked_sdk(server) as client:
        real_compose = server.service.blobs.compose

        def held_compose(key: str, parts: Sequence[str]) -> None:
            on_a_loop.append(running_a_loop())
            time.sleep(hold_seconds)
            real_compose(key, parts)

        server.service.blobs.compose = held_compose  # type: ignore[method-assign]
        upload_id, part_ids = upload_parts(client)
        done = client.uploads.complete(upload_id, part_ids=part_ids)
        assert done.file is not None
        assert client.files.content(done.file.id).content == WHOLE
        after = client.files.create(file=("t.jsonl", PARTS[0]), purpose="fine-tune")
        return [done.file.id, after.id], on_a_loop


def test_a_completions_bytes_are_composed_off_the_event_loop_and_take_one_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Composing a File of the parts (a directory, a link per part) waits for the
    filesystem's journal: a disk thread does it while the completion waits off the loop,
    and the completion runs again when it is done. It takes one id all the same: the ids
    are those of a completion whose bytes were composed at once."""
    held, on_a_loop = completion_ids(make_settings(tmp_path / "held"), hold_seconds=0.3)
    assert on_a_loop == [False]  # composed once, not on the loop
    monkeypatch.setattr(uploads, "disk", Inline)
    at_once, _ = completion_ids(make_settings(tmp_path / "at-once"), hold_seconds=0)
    assert held == at_once


def test_a_files_bytes_are_found_and_opened_off_the_event_loop(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A completion checks the head of the File it composed, and a download lists a
    composed File's directory and opens its first part before it answers: both wait for
    the filesystem, so a disk thread does them."""
    on_a_loop = calls_on_a_loop(monkeypatch, blobs.DiskBlobs, "_segments")
    upload_id, part_ids = upload_parts(client)
    done = client.uploads.complete(upload_id, part_ids=part_ids)
    assert done.file is not None
    assert client.files.content(done.file.id).content == WHOLE
    assert on_a_loop and not any(on_a_loop)
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-nope")


def test_a_blob_is_named_off_the_event_loop(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Committing a File's or a Part's bytes renames them into place, which waits for the
    filesystem's journal: a disk thread does it, and the event loop serves others
    meanwhile (it runs a callback while the rename is held back)."""
    loops: list[asyncio.AbstractEventLoop] = []
    loop_free: list[bool] = []
    real_writer, real_rename = blobs.DiskBlobs.writer, blobs._rename

    def noting_writer(self: blobs.DiskBlobs, key: str) -> blobs.DiskBlobWriter:
        loops.append(asyncio.get_running_loop())
        return real_writer(self, key)

    def held_rename(source: Path, target: Path) -> None:
        ran = threading.Event()
        loops[-1].call_soon_threadsafe(ran.set)
        loop_free.append(not running_a_loop() and ran.wait(WAIT_SECONDS))
        real_rename(source, target)

    monkeypatch.setattr(blobs.DiskBlobs, "writer", noting_writer)
    monkeypatch.setattr(blobs, "_rename", held_rename)
    file = client.files.create(file=("t.jsonl", PARTS[0]), purpose="fine-tune")
    upload_id = create(client)
    client.uploads.parts.create(upload_id, data=PARTS[1])
    assert loop_free == [True, True]
    assert client.files.content(file.id).content == PARTS[0]


def test_uploaded_bytes_are_synced_on_the_disk_threads(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the store's disk threads, always running, not on the loop's own executor, which
    starts a thread on the loop when it first needs one (the loop waits for it to run)."""
    threads: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        threads.append(threading.current_thread().name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    client.files.create(file=("t.jsonl", PARTS[0]), purpose="fine-tune")
    upload_id = create(client)
    client.uploads.parts.create(upload_id, data=PARTS[1])
    assert len(threads) == 2
    assert all(name.startswith("mockft-disk") for name in threads), threads


def test_more_uploads_flushing_at_once_than_disk_threads_all_finish(tmp_path: Path) -> None:
    """A flush runs on a disk thread and writes its last batch there: were it to hand the
    batch to another disk thread and wait, uploads flushing on every disk thread at once
    would wait for each other forever."""
    from mockft.store import disk

    store = blobs.DiskBlobs(tmp_path)
    writers = [store.writer(f"k{n}") for n in range(4 * disk.THREADS)]
    for writer in writers:
        writer.write(b"x" * 1000)  # a batch not yet handed over
    flushes = [disk.submit(writer.flush) for writer in writers]
    for flush in flushes:
        flush.result(timeout=WAIT_SECONDS)
    for writer in writers:
        writer.commit()
    assert all(store.size(f"k{n}") == 1000 for n in range(len(writers)))


def test_disk_threads_waiting_for_disk_work_queued_behind_them_run_it() -> None:
    """Every disk thread busy with a task that waits for another disk task, queued behind
    them all: each waiting thread runs the task it waits for (else none would be left)."""
    from mockft.store import disk

    release = threading.Event()
    inner: list[Future[str]] = []
    ran_on: dict[int, str] = {}

    def waits_for(n: int) -> str:
        release.wait(WAIT_SECONDS)  # every thread taken before the inner tasks queue up
        return disk.wait(inner[n]) + "!"

    def queued(n: int) -> str:
        ran_on[n] = threading.current_thread().name
        return str(n)

    outer = [disk.submit(waits_for, n) for n in range(disk.THREADS)]
    inner.extend(disk.submit(queued, n) for n in range(disk.THREADS))
    release.set()
    assert [f.result(timeout=WAIT_SECONDS) for f in outer] == [f"{n}!" for n in range(disk.THREADS)]
    assert all(name.startswith("mockft-disk") for name in ran_on.values())


def test_a_discard_moves_the_name_aside_on_a_disk_thread(
    server: Server, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DELETE /v1/files/{id}: the rename into `.partial/` waits for the filesystem's journal
    (behind whatever the disk writes), so it runs on a disk thread too, not on the loop."""
    aside = lambda source, target: ".deleted." in str(target)  # noqa: E731
    renames = calls_on_a_loop(monkeypatch, blobs.os, "rename", only=aside)
    file = client.files.create(file=("a.jsonl", PARTS[0]), purpose="fine-tune")
    assert client.files.delete(file.id).deleted
    assert renames == [False]
    assert file.id not in blob_names(server)


def test_a_key_written_again_while_its_discard_is_under_way_keeps_its_new_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids start over after a reset: a key discarded and written again before the discard
    has moved its name aside waits for that move, which would take the new bytes too."""
    store = blobs.DiskBlobs(tmp_path)
    first = store.writer("file-1")
    first.write(b"old")
    first.commit()
    held, release = threading.Event(), threading.Event()
    real_rename = os.rename

    def held_rename(source: Path, target: Path) -> None:
        if ".deleted." in str(target):
            held.set()
            release.wait(WAIT_SECONDS)
        real_rename(source, target)

    monkeypatch.setattr(blobs.os, "rename", held_rename)
    removal = store.discard("file-1")
    assert removal is not None and held.wait(WAIT_SECONDS)
    assert store.size("file-1") is None and "file-1" not in store.keys()  # gone for readers

    def write_again() -> None:
        again = store.writer("file-1")
        again.write(b"new")
        again.commit()

    writing = threading.Thread(target=write_again)
    writing.start()
    writing.join(0.5)  # written in full here, were it not waiting for the move
    release.set()
    writing.join(WAIT_SECONDS)
    removal.result(WAIT_SECONDS)
    assert b"".join(store.read("file-1")) == b"new"
