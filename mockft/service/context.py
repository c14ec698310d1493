"""What every part of the service shares: settings, stores, clock, catalog, keys."""

from __future__ import annotations

from dataclasses import dataclass

from mockft import synth
from mockft.auth import KeyRing
from mockft.catalog import Catalog
from mockft.clock import Clock
from mockft.config import Settings
from mockft.store import Blobs, Store


@dataclass
class Context:
    settings: Settings
    store: Store
    blobs: Blobs
    clock: Clock
    catalog: Catalog
    keys: KeyRing

    def now(self) -> int:
        return int(self.clock.now())

    def new_id(self, prefix: str) -> str:
        """Deterministic: the same seed and the same sequence of creations give the same ids."""
        return synth.make_id(prefix, self.settings.seed, self.store.next_sequence("ids"))


class Part:
    """A part of the service (files, uploads, jobs, ...), reading the shared context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.store = ctx.store
        self.blobs = ctx.blobs
        self.catalog = ctx.catalog

    def now(self) -> int:
        return self.ctx.now()

    def new_id(self, prefix: str) -> str:
        return self.ctx.new_id(prefix)
