"""What every part of the service shares: settings, stores, clock, catalog, keys; and the
instant an operation runs at."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

from mockft import synth
from mockft.auth import KeyRing
from mockft.catalog import Catalog
from mockft.clock import Clock
from mockft.config import Settings
from mockft.lifecycle import NEVER
from mockft.store import Blobs, Store

P = ParamSpec("P")
R = TypeVar("R")

# The instant after which what the current request read may change (see `Lasting`).
_LASTING: ContextVar[Lasting | None] = ContextVar("mockft_lasting", default=None)

# The instant the current operation runs at (one request sees one instant: everything it
# reads and writes is as of the moment it began, however long it takes).
_INSTANT: ContextVar[int | None] = ContextVar("mockft_instant", default=None)


@dataclass
class Context:
    settings: Settings
    store: Store
    blobs: Blobs
    clock: Clock
    catalog: Catalog
    keys: KeyRing

    def now(self) -> int:
        pinned = _INSTANT.get()
        return int(self.clock.now()) if pinned is None else pinned

    def instant(self) -> Instant:
        """Pin "now" for what runs inside: the clock is read once, on entry (nested uses
        keep the outer instant)."""
        return Instant(self.clock)

    def new_id(self, prefix: str) -> str:
        """Deterministic: the same seed and the same sequence of creations give the same ids."""
        return synth.make_id(prefix, self.settings.seed, self.store.next_sequence("ids"))


class Instant:
    """The context manager of `Context.instant` (a class: it runs on every request)."""

    __slots__ = ("_clock", "_token")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._token: Token[int | None] | None = None

    def __enter__(self) -> int:
        pinned = _INSTANT.get()
        if pinned is not None:
            return pinned
        now = int(self._clock.now())
        self._token = _INSTANT.set(now)
        return now

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _INSTANT.reset(self._token)
            self._token = None


class Lasting:
    """How long what a request read stays true while the store does not change: the
    earliest instant at which something it read changes by itself (a job's next planned
    instant, a file's expiry). A reader that knows reports it with `lasts_until`; a
    request whose reads are not all of that kind never opens one (`until` stays None),
    so nothing of it is kept."""

    __slots__ = ("_token", "until")

    def __init__(self) -> None:
        self.until: int | None = None
        self._token: Token[Lasting | None] | None = None

    def __enter__(self) -> Lasting:
        self._token = _LASTING.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _LASTING.reset(self._token)
            self._token = None


def lasting() -> None:
    """The current request's reads are all of the kind that report how long they last
    (an answer the front may keep: a polled job, its events, a file)."""
    current = _LASTING.get()
    if current is not None and current.until is None:
        current.until = NEVER  # until something read says otherwise


def lasts_until(instant: int | None) -> None:
    """What was just read changes by itself at `instant` (None: never)."""
    current = _LASTING.get()
    if current is not None and current.until is not None and instant is not None:
        if instant < current.until:
            current.until = instant


class Part:
    """A part of the service (files, uploads, jobs, ...), reading the shared context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.store = ctx.store
        self.blobs = ctx.blobs

    @property
    def catalog(self) -> Catalog:
        """The base models (a scenario may change them while the server runs)."""
        return self.ctx.catalog

    def now(self) -> int:
        return self.ctx.now()

    def new_id(self, prefix: str) -> str:
        return self.ctx.new_id(prefix)


PartT = TypeVar("PartT", bound=Part)


def one_instant(
    operation: Callable[Concatenate[PartT, P], R],
) -> Callable[Concatenate[PartT, P], R]:
    """An operation of a part that runs at one instant (see `Context.instant`)."""

    @functools.wraps(operation)
    def at_one_instant(self: PartT, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.ctx.instant():
            return operation(self, *args, **kwargs)

    return at_one_instant
