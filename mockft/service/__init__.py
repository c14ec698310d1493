"""The operations. The only place that combines store, blobs, clock and the pure modules;
routes call these parts and serialise what comes back."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from mockft.auth import KeyRing, Organization
from mockft.catalog import Catalog, load_catalog
from mockft.config import Settings
from mockft.service.chaos import ChaosSpec
from mockft.service.clockctl import ClockControl
from mockft.service.context import Context, Lasting, lasting
from mockft.service.control import Control, FailJob, RegisterWandbKey, SetLimits
from mockft.service.delivery import Delivery
from mockft.service.files import FILE, FileContent, Files
from mockft.service.graders import Graders
from mockft.service.inference import Inference
from mockft.service.jobs import JOB, Jobs
from mockft.service.limits import Limits
from mockft.service.models import Models
from mockft.service.permissions import Permissions
from mockft.service.uploads import MAX_PART_BYTES, PART, Uploads
from mockft.service.wandb_keys import WandbKeys
from mockft.service.webhooks import EndpointSpec, Webhooks
from mockft.service.work import Pending, Work, deferring
from mockft.store import Blobs, Store, Stores, open_stores

if TYPE_CHECKING:
    from mockft.scenario.state import Scenarios

__all__ = [
    "MAX_PART_BYTES",
    "ChaosSpec",
    "Control",
    "EndpointSpec",
    "FailJob",
    "FileContent",
    "Lasting",
    "RegisterWandbKey",
    "Service",
    "SetLimits",
    "lasting",
]

T = TypeVar("T")


class Service:
    def __init__(
        self,
        settings: Settings,
        stores: Stores,
        clock: ClockControl,
        catalog: Catalog | None = None,
    ) -> None:
        self.settings = settings
        self._stores = stores
        self.store: Store = stores.store
        self.blobs: Blobs = stores.blobs
        self.keys = KeyRing(
            settings.api_keys, settings.org_name, settings.control_keys, settings.admin_keys
        )
        self.clock = clock
        self.ctx = Context(
            settings, self.store, self.blobs, clock, catalog or load_catalog(), self.keys
        )
        from mockft.scenario.state import Scenarios  # scenarios import the service's parts

        self.scenarios: Scenarios = Scenarios(self)
        rules = self.scenarios.rules
        self.files = Files(self.ctx)
        work = Work()  # heavy work off the event loop: validations, checksums, result files
        self.uploads = Uploads(self.ctx, self.files, work)
        self.permissions = Permissions(self.ctx)
        self.models = Models(self.ctx, self.permissions)
        self.limits = Limits(self.ctx, JOB)
        self.wandb_keys = WandbKeys(self.ctx)
        self.jobs = Jobs(
            self.ctx,
            self.files,
            self.models,
            work=work,
            limits=self.limits,
            wandb_keys=self.wandb_keys,
            course_for=rules.course_for,
        )
        self.inference = Inference(self.ctx, self.permissions, answer_for=rules.answer_for)
        self.webhooks = Webhooks(self.ctx, self.jobs)
        self.delivery = Delivery(self.webhooks, clock)
        self.graders = Graders()
        self.control = Control(self)

    @classmethod
    def open(cls, settings: Settings) -> Service:
        """Read the scenarios the settings name (`ScenarioInvalid` lists their problems),
        lock the data dir (`DataDirLocked` if another process holds it), restore the clock,
        clean up what a crash left behind, and load the scenarios."""
        loaded = None
        if settings.scenario:
            from mockft.scenario import loader, state

            loaded = loader.read_files(settings.scenario)
            settings = state.settings_with(settings, loaded)
        stores = open_stores(None if settings.memory else settings.data_dir)
        try:
            service = cls(settings, stores, ClockControl.restore(settings, stores.store))
        except BaseException:
            stores.close()
            raise
        try:
            service.sweep()
            if loaded is not None:
                service.scenarios.start(loaded)
        except BaseException:
            service.close()
            raise
        return service

    def sweep(self) -> None:
        """Delete bytes no live object owns: a crash can land between committing a blob
        and recording (or tombstoning) its File or Part, and the client never heard back;
        the bytes of Files and Upload parts that expired while nobody looked; and Files
        whose bytes a deletion removed before the crash let it record the deletion. A job
        owns what its models learned (`service/learning.py`)."""
        self.files.purge_expired()
        self.uploads.purge_expired()
        now = self.ctx.now()
        files = self.store.ids(FILE, now)
        stored = self.blobs.keys()
        owned = files | self.store.ids(PART, now) | self.store.ids(JOB, now)
        for key in stored - owned:
            self.blobs.delete(key)
        for file_id in files - stored:  # a deletion a crash interrupted (`Files.delete`)
            self.store.delete(FILE, file_id)

    def close(self) -> None:
        try:
            self.jobs.close()
            self.clock.save()
        finally:
            self._stores.close()

    def authenticate(
        self, authorization: str | None, organization: str | None = None
    ) -> Organization:
        return self.keys.authenticate(authorization, organization)

    async def settled(self, operation: Callable[[], T]) -> T:
        """Run an operation at one instant, the caller's. An operation that needs work
        still running off the event loop (a file's validation, a result file) raises
        `Pending`: it is awaited, so other requests are served meanwhile, and the operation
        runs again at the same instant."""
        with self.ctx.instant(), deferring():
            while True:
                try:
                    return operation()
                except Pending as pending:
                    await pending.wait()
