"""SQLite document store: WAL on disk (the embedded default) or `:memory:`.

Every write is one autocommitted statement, so whatever a response acknowledged is
in the WAL before the response leaves; a kill -9 loses nothing acknowledged.

The WAL is copied back into the database (a checkpoint: two syncs, which wait behind
whatever else the disk is writing, a large upload say) on a disk thread through a
connection of its own, never by the connection the event loop writes through: that one has
SQLite's automatic checkpoints turned off."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from mockft.paging import PageRequest
from mockft.store import disk
from mockft.store.base import Document

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    org TEXT NOT NULL,
    tag TEXT,
    gone_at INTEGER,
    body TEXT NOT NULL,
    UNIQUE (kind, id)
);
CREATE INDEX IF NOT EXISTS objects_by_org ON objects (kind, org, seq);
CREATE INDEX IF NOT EXISTS objects_by_tag ON objects (kind, org, tag, seq);
CREATE INDEX IF NOT EXISTS objects_gone ON objects (kind, gone_at) WHERE gone_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS timers (
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    org TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (name, key)
);
CREATE INDEX IF NOT EXISTS timers_by_instant ON timers (name, at);
"""
log = logging.getLogger(__name__)
ALIVE = "(gone_at IS NULL OR gone_at > ?)"
# A deleted object keeps its row with gone_at = 0 (a tombstone): invisible everywhere, but a
# list cursor naming it still finds its place, so paging survives concurrent deletes.
TOMBSTONE = 0
GET_ANY_ORG = f"SELECT body FROM objects WHERE kind = ? AND id = ? AND {ALIVE}"
GET_IN_ORG = GET_ANY_ORG + " AND org = ?"


def _dumps(body: Document) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


CHECKPOINT_WRITES = 200
"""Writes between two checkpoints (a few MB of WAL; SQLite's own default is 1,000 pages)."""


def _checkpoint(db: sqlite3.Connection) -> None:
    """Copy what the WAL holds into the database, as far as no reader needs it (PASSIVE:
    never waits for the writer)."""
    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


class Checkpoints:
    """The WAL's checkpoints, run on a disk thread through their own connection, one at a
    time, every CHECKPOINT_WRITES writes."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._writes = 0
        self._running: Future[None] | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> Future[None] | None:
        return self._running

    def wrote(self) -> None:
        """One more write; start a checkpoint if enough have been made and none runs."""
        with self._lock:
            self._writes += 1
            if self._writes < CHECKPOINT_WRITES or (
                self._running is not None and not self._running.done()
            ):
                return
            self._writes = 0
            self._running = disk.submit(_checkpoint, self._db)

    def close(self) -> None:
        with self._lock:
            running, self._running = self._running, None
        if running is not None:
            with contextlib.suppress(Exception):  # closing: a failed checkpoint is redone
                disk.wait(running)
        self._db.close()


def _metadata_path(key: str) -> str:
    return '$.metadata."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


class SqliteStore:
    def __init__(self, path: Path | str) -> None:
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._checkpoints: Checkpoints | None = None
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # `Checkpoints` does them
            self._checkpoints = Checkpoints(path)
        self._db.executescript(SCHEMA)
        self._versions = itertools.count(1)  # next() is atomic under the GIL
        self._version = 0

    @property
    def version(self) -> int:
        return self._version

    @property
    def checkpoints(self) -> Checkpoints | None:
        """The WAL's checkpoints (None in memory)."""
        return self._checkpoints

    def _changed(self) -> None:
        self._version = next(self._versions)

    def _wrote(self) -> None:
        if self._checkpoints is not None and not self._db.in_transaction:
            self._checkpoints.wrote()

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _write(self, sql: str, params: tuple[Any, ...], *, objects: bool = True) -> int:
        with self._lock:
            try:
                return self._db.execute(sql, params).rowcount
            finally:
                if objects:
                    self._changed()
                self._wrote()

    def insert(
        self,
        kind: str,
        obj_id: str,
        org: str,
        body: Document,
        *,
        tag: str | None = None,
        gone_at: int | None = None,
    ) -> None:
        self._write(
            "INSERT INTO objects (kind, id, org, tag, gone_at, body) VALUES (?, ?, ?, ?, ?, ?)",
            (kind, obj_id, org, tag, gone_at, _dumps(body)),
        )

    def put(
        self, kind: str, obj_id: str, org: str, body: Document, *, tag: str | None = None
    ) -> None:
        self._write(
            "INSERT INTO objects (kind, id, org, tag, gone_at, body) VALUES (?, ?, ?, ?, NULL, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET org = excluded.org, tag = excluded.tag, "
            "gone_at = NULL, body = excluded.body",
            (kind, obj_id, org, tag, _dumps(body)),
        )

    def update(self, kind: str, obj_id: str, body: Document) -> None:
        self._write(
            "UPDATE objects SET body = ? WHERE kind = ? AND id = ?", (_dumps(body), kind, obj_id)
        )

    def get(self, kind: str, obj_id: str, org: str | None, now: float) -> Document | None:
        text = self.get_encoded(kind, obj_id, org, now)
        return _document(text) if text is not None else None

    def get_encoded(self, kind: str, obj_id: str, org: str | None, now: float) -> str | None:
        sql = GET_IN_ORG if org is not None else GET_ANY_ORG
        params = (kind, obj_id, now, org) if org is not None else (kind, obj_id, now)
        rows = self._run(sql, params)
        return str(rows[0][0]) if rows else None

    def delete(self, kind: str, obj_id: str) -> bool:
        return (
            self._write(
                "UPDATE objects SET gone_at = ? WHERE kind = ? AND id = ? "
                "AND (gone_at IS NULL OR gone_at > ?)",
                (TOMBSTONE, kind, obj_id, TOMBSTONE),
            )
            > 0
        )

    def page(
        self,
        kind: str,
        org: str | None,
        page: PageRequest,
        now: float,
        *,
        tag: str | None = None,
        match: Mapping[str, str] | None = None,
        readable: Callable[[Document], bool] | None = None,
    ) -> list[Document]:
        where, params = self._where(kind, org, now, tag)
        for key, value in (match or {}).items():
            where += " AND json_extract(body, ?) = ?"
            params += (_metadata_path(key), value)
        descending = page.order == "desc"
        sql = (
            f"SELECT seq, body FROM objects WHERE {where} AND seq {'<' if descending else '>'} ? "
            f"ORDER BY seq {'DESC' if descending else 'ASC'} LIMIT ?"
        )
        docs: list[Document] = []
        with self._lock:
            bound = _MAX_SEQ if descending else 0  # seq counts from 1
            if page.after is not None:
                cursor_sql = "SELECT seq FROM objects WHERE kind = ? AND id = ?"
                cursor_params: tuple[Any, ...] = (kind, page.after)
                if org is not None:  # another organization's id is an unknown cursor
                    cursor_sql += " AND org = ?"
                    cursor_params += (org,)
                row = self._db.execute(cursor_sql, cursor_params).fetchone()
                if row is None:
                    return []
                bound = int(row[0])
            while True:  # until limit + 1 readable documents, or no more rows
                wanted = page.limit + 1 - len(docs)
                rows = self._db.execute(sql, params + (bound, wanted)).fetchall()
                found = _documents([(body,) for _, body in rows])
                docs += found if readable is None else filter(readable, found)
                if len(rows) < wanted or len(docs) > page.limit:
                    return docs
                bound = int(rows[-1][0])

    def scan(
        self, kind: str, org: str | None, now: float, *, tag: str | None = None
    ) -> list[Document]:
        where, params = self._where(kind, org, now, tag)
        rows = self._run(f"SELECT body FROM objects WHERE {where} ORDER BY seq", params)
        return _documents(rows)

    @staticmethod
    def _where(
        kind: str, org: str | None, now: float, tag: str | None
    ) -> tuple[str, tuple[Any, ...]]:
        where = f"kind = ? AND {ALIVE}"
        params: tuple[Any, ...] = (kind, now)
        if org is not None:
            where += " AND org = ?"
            params += (org,)
        if tag is not None:
            where += " AND tag = ?"
            params += (tag,)
        return where, params

    def gone(self, kind: str, now: float) -> list[str]:
        rows = self._run(
            "SELECT id FROM objects WHERE kind = ? AND gone_at > ? AND gone_at <= ?",
            (kind, TOMBSTONE, now),
        )
        return [r[0] for r in rows]

    def ids(self, kind: str, now: float) -> set[str]:
        rows = self._run(f"SELECT id FROM objects WHERE kind = ? AND {ALIVE}", (kind, now))
        return {r[0] for r in rows}

    def next_sequence(self, name: str) -> int:
        rows = self._run(
            "INSERT INTO sequences (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            (name,),
        )
        self._wrote()
        return int(rows[0][0])

    def set_timer(self, name: str, key: str, org: str, at: int) -> None:
        self._write(
            "INSERT INTO timers (name, key, org, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name, key) DO UPDATE SET org = excluded.org, at = excluded.at",
            (name, key, org, at),
        )

    def clear_timer(self, name: str, key: str) -> None:
        self._write("DELETE FROM timers WHERE name = ? AND key = ?", (name, key))

    def due_timers(self, name: str, until: float, limit: int) -> list[tuple[str, str, int]]:
        rows = self._run(
            "SELECT key, org, at FROM timers WHERE name = ? AND at <= ? ORDER BY at, key LIMIT ?",
            (name, until, limit),
        )
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    def next_timer(self, names: tuple[str, ...]) -> int | None:
        earliest: int | None = None
        for name in names:  # one index look-up each
            rows = self._run("SELECT MIN(at) FROM timers WHERE name = ?", (name,))
            at = rows[0][0] if rows else None
            if at is not None and (earliest is None or at < earliest):
                earliest = int(at)
        return earliest

    def drop_timers(self, name: str, before: int) -> int:
        return self._write("DELETE FROM timers WHERE name = ? AND at < ?", (name, before))

    def pull_timers(self, names: tuple[str, ...], org: str | None, at: int) -> None:
        for name in names:
            self._write(
                "UPDATE timers SET at = ? WHERE name = ? AND at > ? AND (? IS NULL OR org = ?)",
                (at, name, at, org, org),
            )

    def sequence(self, name: str) -> int:
        rows = self._run("SELECT value FROM sequences WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def advance_sequence(self, name: str, value: int) -> None:
        self._write(
            "INSERT INTO sequences (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
            (name, value),
        )

    def get_meta(self, key: str) -> str | None:
        rows = self._run("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str, *, answers: bool = False) -> None:
        self._write(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
            objects=answers,
        )

    def delete_meta(self, key: str, *, answers: bool = False) -> None:
        self._write("DELETE FROM meta WHERE key = ?", (key,), objects=answers)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:  # re-entrant: the writes inside take it again
            if self._db.in_transaction:  # inside another: part of it
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                self._changed()
                raise
            self._db.execute("COMMIT")
            self._changed()
            self._wrote()

    def clear(self, org: str | None = None) -> None:
        with self.transaction():
            if org is not None:
                self._db.execute("DELETE FROM objects WHERE org = ?", (org,))
                self._db.execute("DELETE FROM timers WHERE org = ?", (org,))
                return
            for table in ("objects", "sequences", "timers"):
                self._db.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        with self._lock:
            if self._checkpoints is not None:
                self._checkpoints.close()
            self._db.close()


_MAX_SEQ = (1 << 63) - 1  # SQLite's largest integer


def _document(text: str) -> Document | None:
    """A stored body, or None where it is not a JSON object (a row damaged or edited by hand):
    such a row is skipped as if absent (and logged), so that one bad row neither stops a list
    nor the server, and everything else stays reachable."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict):
        log.warning("skipping an unreadable stored object: %.200s", text)
        return None
    return doc


def _documents(rows: list[Any]) -> list[Document]:
    return [doc for row in rows if (doc := _document(row[0])) is not None]
