"""What a test may choose of its mockft: defaults < a scenario's clock and seed < the
`--mockft-*` options < the `mockft` marker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockft.config import Settings

MARKER = "mockft"
OPTION_NAMES = ("seed", "clock", "speed", "start_time", "scenario")
# The API key of the handles' SDK clients; with a scenario that declares keys, the key of
# the default organization.
DEFAULT_API_KEY = "sk-mockft-test"
DEFAULT_SEED = 0
DEFAULT_CLOCK = "manual"
# Where every test's manual clock starts (2023-11-14T22:13:20Z), so runs are byte-identical.
DEFAULT_START_TIME = 1_700_000_000


@dataclass(frozen=True)
class MockFTOptions:
    seed: int = DEFAULT_SEED
    clock: str = DEFAULT_CLOCK
    speed: float | None = None
    start_time: int = DEFAULT_START_TIME
    scenario: tuple[str, ...] = ()
    """Scenario files, absolute paths, in order."""
    keyed: bool = False
    """The scenario declares keys: the handles' key is given to the default organization."""

    def settings(self, **overrides: Any) -> Settings:
        from mockft.config import Settings

        values: dict[str, Any] = {"memory": True, "clock": self.clock, "seed": self.seed}
        if self.clock == "manual" or self.start_time != DEFAULT_START_TIME:
            values["start_time"] = self.start_time
        if self.speed is not None:
            values["speed"] = self.speed
        if self.scenario:
            values["scenario"] = self.scenario
        if self.keyed:
            values["api_keys"] = (DEFAULT_API_KEY,)
        return Settings(**values, **overrides)

    @classmethod
    def of(cls, settings: Settings) -> MockFTOptions:
        """The options of an app built from `settings` (a reset restarts a manual clock at
        its start time; the default one when the settings leave it to the wall clock)."""
        return cls(
            seed=settings.seed,
            clock=settings.clock,
            speed=settings.speed if settings.clock == "system" else None,
            start_time=DEFAULT_START_TIME if settings.start_time is None else settings.start_time,
        )


def options_for(config: pytest.Config, node: pytest.Item | None = None) -> MockFTOptions:
    values: dict[str, Any] = {}
    for name in OPTION_NAMES:
        given = config.getoption(f"mockft_{name}")
        if given is not None:
            values[name] = given
    if "scenario" in values:  # command-line paths are relative to where pytest runs
        values["scenario"] = _paths(values["scenario"], Path.cwd())
    marker = node.get_closest_marker(MARKER) if node is not None else None
    if marker is not None:
        unknown = sorted(set(marker.kwargs) - set(OPTION_NAMES))
        if marker.args or unknown:
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER} takes only keyword arguments among "
                f"{', '.join(OPTION_NAMES)}; got {list(marker.args) + unknown}"
            )
        values.update(marker.kwargs)
        if "scenario" in marker.kwargs:  # relative to the test's module
            here = Path(str(node.path)).parent if node is not None else Path.cwd()
            values["scenario"] = _paths(marker.kwargs["scenario"], here)
    if values.get("scenario"):
        values = _with_scenario(values)
    return MockFTOptions(**values)


def _paths(given: str | Path | Sequence[str | Path], base: Path) -> tuple[str, ...]:
    """Scenario files as absolute paths: one path, or several (later files win)."""
    paths = [given] if isinstance(given, (str, Path)) else list(given)
    return tuple(str(base / Path(p)) for p in paths)


def _with_scenario(values: dict[str, Any]) -> dict[str, Any]:
    """The scenario's clock and seed where the options and the marker say nothing. A
    scenario with a problem fails the test with every problem (`ScenarioInvalid`)."""
    from mockft.scenario.loader import read_files

    loaded = read_files(values["scenario"])
    clock = loaded.clock
    if clock is not None:
        for name, given in (
            ("clock", clock.mode),
            ("speed", clock.speed),
            ("start_time", clock.start),
        ):
            if given is not None:
                values.setdefault(name, given)
    if loaded.seed is not None:
        values.setdefault("seed", loaded.seed)
    values["keyed"] = any(item.spec.keys for item in loaded.organizations)
    return values
