"""The SQLite store's disk waits stay off the event loop: the WAL is checkpointed (two
syncs, seconds behind a large upload's writes) on a disk thread through a connection of its
own, and the connection requests write through never checkpoints by itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openai
import pytest

from mockft.store import disk, sqlite
from mockft.store.sqlite import SqliteStore
from tests.conftest import calls_on_a_loop

PAGE = 4096
AUTOCHECKPOINT_PAGES = 1000  # SQLite's default: a connection checkpoints past this much WAL


def test_the_wal_is_checkpointed_off_the_event_loop(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_a_loop = calls_on_a_loop(monkeypatch, sqlite, "_checkpoint")
    monkeypatch.setattr(sqlite, "CHECKPOINT_WRITES", 3)
    for n in range(10):
        client.files.create(file=(f"{n}.jsonl", b'{"a": 1}\n'), purpose="user_data")
    assert on_a_loop  # the writes were checkpointed ...
    assert not any(on_a_loop)  # ... and never on the event loop


def test_the_connection_that_answers_requests_never_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the disk thread's checkpoints held back, the WAL keeps every write: had the
    store's own connection checkpointed (SQLite's default, past 1,000 pages), the WAL would
    have started over and stayed near that size."""
    monkeypatch.setattr(sqlite, "_checkpoint", lambda db: None)
    store = SqliteStore(tmp_path / "db.sqlite3")
    try:
        body = {"text": "x" * 20_000}  # five pages a row
        rows = 2 * AUTOCHECKPOINT_PAGES // 5
        for n in range(rows):
            store.insert("thing", f"t{n}", "org", body)
        wal = tmp_path / "db.sqlite3-wal"
        assert wal.stat().st_size > 2 * AUTOCHECKPOINT_PAGES * PAGE * 0.9
        assert store.get("thing", f"t{rows - 1}", "org", 0) == body
    finally:
        store.close()


def test_a_checkpoint_copies_the_wal_into_the_database(tmp_path: Path) -> None:
    """What the disk thread's checkpoints do: the database file itself holds the writes."""
    store = SqliteStore(tmp_path / "db.sqlite3")
    try:
        checkpoints = store.checkpoints
        assert checkpoints is not None
        for n in range(sqlite.CHECKPOINT_WRITES):
            store.insert("thing", f"t{n}", "org", {"text": "x" * PAGE})
        running = checkpoints.running
        assert running is not None  # started by the last write
        running.result(timeout=30)
        pages = (tmp_path / "db.sqlite3").stat().st_size // PAGE
        assert pages > sqlite.CHECKPOINT_WRITES  # a page or more a row, not in the WAL only
    finally:
        store.close()


def test_the_disk_threads_are_running_before_a_data_dir_is_served(tmp_path: Path) -> None:
    """A disk thread started when first needed would be started on the event loop, which
    waits for it to run: they are all started when a data dir's stores open (counted in a
    process of its own, where nothing else has started them)."""
    count = (
        "import sys, threading\n"
        "from mockft.store import open_stores\n"
        "stores = open_stores(__import__('pathlib').Path(sys.argv[1]))\n"
        "print(sum(t.name.startswith('mockft-disk') for t in threading.enumerate()))\n"
        "stores.close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", count, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert int(out) == disk.THREADS
