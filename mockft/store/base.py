"""Store interfaces. Objects are JSON documents keyed by (kind, id), owned by an
organization, listed in insertion order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Protocol

from mockft.paging import PageRequest

Document = dict[str, Any]


class Store(Protocol):
    @property
    def version(self) -> int:
        """Changes after every change to the objects is committed (never before), so that
        an answer read from them while it did not change may be kept until it does."""
        ...

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
        """`tag` is a secondary filter (a file's purpose, a part's upload id);
        `gone_at` is when the object stops existing (an expiring file)."""
        ...

    def update(self, kind: str, obj_id: str, body: Document) -> None: ...

    def put(
        self, kind: str, obj_id: str, org: str, body: Document, *, tag: str | None = None
    ) -> None:
        """Insert, or overwrite the object of that id, a deleted one too (for objects keyed
        by what they are about, such as a grant of a model to a project)."""
        ...

    def get(self, kind: str, obj_id: str, org: str | None, now: float) -> Document | None:
        """`org=None` looks across organizations (internal use only)."""
        ...

    def get_encoded(self, kind: str, obj_id: str, org: str | None, now: float) -> str | None:
        """The document as stored (JSON text): equal texts are equal documents, so what is
        derived from a document can be memoised on its text."""
        ...

    def delete(self, kind: str, obj_id: str) -> bool:
        """True if it existed. The object is gone, but a list cursor naming it still works."""
        ...

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
        """Up to `page.limit + 1` documents after the cursor, in `page.order` of insertion.
        `match` filters on top-level `metadata` keys. A document that is not JSON, or that
        `readable` refuses (a row damaged by hand), is skipped and made up for from beyond
        it: it neither shortens the page nor hides `has_more`."""
        ...

    def scan(
        self, kind: str, org: str | None, now: float, *, tag: str | None = None
    ) -> list[Document]: ...

    def gone(self, kind: str, now: float) -> list[str]:
        """Ids whose `gone_at` has passed, for purging their bytes."""
        ...

    def ids(self, kind: str, now: float) -> set[str]:
        """Every live id of a kind (for the start-up sweep of orphaned bytes)."""
        ...

    def next_sequence(self, name: str) -> int: ...

    # Timers: named queues of (key -> instant), each owned by an organization, read in order
    # of their instants. A key has one instant per queue; setting it again moves it.

    def set_timer(self, name: str, key: str, org: str, at: int) -> None: ...

    def clear_timer(self, name: str, key: str) -> None: ...

    def due_timers(self, name: str, until: float, limit: int) -> list[tuple[str, str, int]]:
        """Up to `limit` (key, org, instant) of `name` at or before `until`, earliest first."""
        ...

    def next_timer(self, names: tuple[str, ...]) -> int | None:
        """The earliest instant of any of these queues (None: they are empty)."""
        ...

    def drop_timers(self, name: str, before: int) -> int:
        """Forget every timer of `name` before `before`; returns how many there were."""
        ...

    def pull_timers(self, names: tuple[str, ...], org: str | None, at: int) -> None:
        """Bring every timer of these queues that an organization owns (None: any) forward
        to `at`, where it is later."""

    def sequence(self, name: str) -> int:
        """The last value `next_sequence` gave (0: none yet)."""
        ...

    def advance_sequence(self, name: str, value: int) -> None:
        """Make the sequence's last value at least `value` (never lower it)."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str, *, answers: bool = False) -> None:
        """`answers`: the value changes what answers read (so `version` changes too)."""
        ...

    def delete_meta(self, key: str, *, answers: bool = False) -> None: ...

    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside happen together or not at all (a kill -9 included); one inside
        another is part of the outer one."""
        ...

    def clear(self, org: str | None = None) -> None:
        """Forget every object and timer (and restart the id sequences), or (`org`) every
        object and timer of one organization. The metadata (the clock) stays: virtual time
        never goes back."""
        ...

    def close(self) -> None: ...


class BlobWriter(Protocol):
    @property
    def size(self) -> int: ...

    def write(self, chunk: bytes) -> None:
        """The bytes may reach the disk after this returns; `commit` waits for them."""
        ...

    @property
    def in_flight(self) -> Future[Any] | None:
        """The write (or the file's creation) still on its way to the disk, if any: an
        async caller awaits it before writing more, so that `write` never blocks its event
        loop."""
        ...

    def flush(self) -> None:
        """Make the bytes written so far durable (blocking: call it off the event loop);
        a `commit` that follows with nothing written since only publishes them."""
        ...

    def commit(self) -> None:
        """Make the bytes durable and visible under the writer's key (blocking)."""
        ...

    def publish(self) -> Future[None]:
        """`commit` on a disk thread (naming a file waits for the filesystem's journal):
        await the returned future. Called again, it returns the same one."""
        ...

    def abort(self) -> None: ...


class Blobs(Protocol):
    def writer(self, key: str) -> BlobWriter: ...

    def compose(self, key: str, parts: Sequence[str]) -> None:
        """Commit `key` as the concatenation of the committed `parts`, which stay as they
        are (an Upload's parts become its File without their bytes being copied)."""
        ...

    def read(self, key: str, chunk_size: int = ...) -> Iterator[bytes]: ...

    def size(self, key: str) -> int | None: ...

    def delete(self, key: str) -> None: ...

    def discard(self, key: str) -> Future[None] | None:
        """Delete `key` at once and free its bytes on a writer thread (an unlink waits for
        the file's pages, seconds while the disk is busy): await the returned removal off
        the event loop. Until it is done the bytes sit in `.partial/`, which start-up
        empties, so a crash in between frees them too."""
        ...

    def keys(self) -> set[str]:
        """Keys of committed blobs."""
        ...

    def clear(self) -> None:
        """Every key goes at once (their bytes are freed as `discard` frees them)."""
        ...
