"""The scenarios of a running service: the rules in force, the keys scenarios added, and
the scenarios the server started with, which a reset brings back (a reset returns the
server to how it started)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockft.auth import KeyRing
from mockft.config import Settings
from mockft.scenario.loader import Loaded, read_files, read_text
from mockft.scenario.rules import Rules
from mockft.scenario.seed import Seeding, Summary, declared_keys

if TYPE_CHECKING:
    from mockft.service import Service


def settings_with(settings: Settings, loaded: Loaded) -> Settings:
    """The settings of a server starting with a scenario: its clock and seed where the
    settings were not given explicitly (a flag or MOCKFT_* variable wins), and its
    organizations' keys added to the configured ones."""
    given = settings.model_fields_set
    update: dict[str, Any] = {}
    clock = loaded.clock
    if clock is not None:
        for name, value in (
            ("clock", clock.mode),
            ("speed", clock.speed),
            ("start_time", clock.start),
        ):
            if value is not None and name not in given:
                update[name] = value
    if loaded.seed is not None and "seed" not in given:
        update["seed"] = loaded.seed
    if loaded.limits is not None:
        for name, value in loaded.limits.model_dump(exclude_none=True).items():
            if name not in given:
                update[name] = value
    known = {entry.partition("=")[0] for entry in (*settings.api_keys, *settings.admin_keys)}
    for name in ("api_keys", "admin_keys"):
        keys = list(getattr(settings, name))
        for item in loaded.organizations:
            for entry, admin, _ in declared_keys(item.spec):
                key = entry.partition("=")[0]
                if admin == (name == "admin_keys") and key not in known:
                    keys.append(entry)
                    known.add(key)
        if len(keys) != len(getattr(settings, name)):
            update[name] = tuple(keys)
    wandb = list(settings.wandb_keys)
    named = {entry.partition("=")[0].strip() for entry in wandb}
    for item in loaded.organizations:
        if item.spec.wandb_key is not None and item.spec.name not in named:
            wandb.append(f"{item.spec.name}={item.spec.wandb_key}")
    if len(wandb) != len(settings.wandb_keys):
        update["wandb_keys"] = tuple(wandb)
    if not update:
        return settings
    return Settings.model_validate({**settings.model_dump(), **update})


class Scenarios:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.rules = Rules()
        self.keys: list[str] = []
        """API keys scenarios loaded at run time added (`KEY=org`, `KEY=org/PROJECT_ID`)."""
        self.admin_keys: list[str] = []
        """Admin keys scenarios loaded at run time added (`KEY=org`)."""
        self.startup: Loaded | None = None
        self.started: Summary | None = None
        """What loading the scenario the server started with did."""
        self._base_catalog = service.ctx.catalog

    def start(self, loaded: Loaded) -> Summary:
        """Load the scenario a server starts with (its clock and keys are in the settings)."""
        self.startup = loaded
        self.started = self._load(loaded, at_start=True)
        return self.started

    def load_files(self, paths: Sequence[str | Path]) -> Summary:
        return self._load(read_files(paths))

    def load_text(self, text: str, source: str, fmt: str, base: Path | None = None) -> Summary:
        """A scenario sent to a running server (`POST /mockft/scenario`): its files are
        inline (`base` None: it may not read the server's disk)."""
        return self._load(read_text(text, source, fmt, base))

    def _load(
        self, loaded: Loaded, *, at_start: bool = False, only_org: str | None = None
    ) -> Summary:
        ctx = self.service.ctx
        with ctx.instant():
            seeding = Seeding(self.service, loaded, at_start=at_start, only_org=only_org)
            seeding.prepare()
        seeding.set_clock()
        if loaded.limits is not None and not at_start:  # at start: in the settings
            self.service.limits.set(**loaded.limits.model_dump(exclude_none=True))
        with ctx.instant():
            return seeding.commit()

    def add_keys(self, entries: Sequence[str], admin_entries: Sequence[str] = ()) -> None:
        """Accept these API keys (`KEY=org`, `KEY=org/PROJECT_ID`) and admin keys (`KEY=org`)
        from now on, beside the configured ones."""
        service = self.service
        self.keys.extend(entries)
        self.admin_keys.extend(admin_entries)
        settings = service.settings
        ring = KeyRing(
            (*settings.api_keys, *self.keys),
            settings.org_name,
            settings.control_keys,
            (*settings.admin_keys, *self.admin_keys),
        )
        service.keys = service.ctx.keys = ring

    def after_reset(self, scope: str | None) -> None:
        """A reset of the whole server forgets every rule and change of the catalog and
        brings back the scenario it started with; a reset of one organization brings back
        that organization's objects and chaos rules of it."""
        if scope is None:
            self.rules.clear()
            self.service.ctx.catalog = self._base_catalog
        if self.startup is not None:
            self._load(self.startup, at_start=True, only_org=scope)
