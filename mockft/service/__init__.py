"""The operations. The only place that combines store, blobs, clock and the pure modules;
routes call these parts and serialise what comes back."""

from __future__ import annotations

from mockft.auth import KeyRing, Organization
from mockft.catalog import Catalog, load_catalog
from mockft.clock import Clock
from mockft.config import Settings
from mockft.service.clockctl import ClockControl, restore_clock
from mockft.service.context import Context
from mockft.service.files import FILE, FileContent, Files
from mockft.service.graders import Graders
from mockft.service.inference import Inference
from mockft.service.jobs import JOB, Jobs
from mockft.service.models import Models
from mockft.service.uploads import MAX_PART_BYTES, PART, Uploads
from mockft.store import Blobs, Store, open_stores

__all__ = ["MAX_PART_BYTES", "FileContent", "Service"]


class Service:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        blobs: Blobs,
        clock: Clock,
        catalog: Catalog | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.keys = KeyRing(settings.api_keys, settings.org_name)
        self.ctx = Context(settings, store, blobs, clock, catalog or load_catalog(), self.keys)
        self.clock = ClockControl(clock, store)
        self.files = Files(self.ctx)
        self.uploads = Uploads(self.ctx, self.files)
        self.models = Models(self.ctx)
        self.jobs = Jobs(self.ctx, self.files, self.models)
        self.inference = Inference(self.ctx)
        self.graders = Graders()

    @classmethod
    def open(cls, settings: Settings) -> Service:
        store, blobs = open_stores(None if settings.memory else settings.data_dir)
        service = cls(settings, store, blobs, restore_clock(settings, store))
        service.sweep()
        return service

    def sweep(self) -> None:
        """Delete bytes no live object owns: a crash can land between committing a blob
        and recording (or tombstoning) its File or Part, and the client never heard back.
        A job owns what its models learned (`service/learning.py`)."""
        now = self.ctx.now()
        owned = self.store.ids(FILE, now) | self.store.ids(PART, now) | self.store.ids(JOB, now)
        for key in self.blobs.keys() - owned:
            self.blobs.delete(key)

    def close(self) -> None:
        self.jobs.close()
        self.clock.save()
        self.store.close()

    def authenticate(
        self, authorization: str | None, organization: str | None = None
    ) -> Organization:
        return self.keys.authenticate(authorization, organization)

    def reset(self) -> None:
        self.jobs.clear()
        self.store.clear()
        self.blobs.clear()
        self.inference.clear()
        self.clock.save()
