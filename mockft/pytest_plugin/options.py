"""What a test may choose of its mockft: defaults < `--mockft-*` options < the `mockft`
marker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockft.config import Settings

MARKER = "mockft"
OPTION_NAMES = ("seed", "clock", "speed", "start_time")
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

    def settings(self, **overrides: Any) -> Settings:
        from mockft.config import Settings

        values: dict[str, Any] = {
            "memory": True,
            "clock": self.clock,
            "seed": self.seed,
            "start_time": self.start_time,
        }
        if self.speed is not None:
            values["speed"] = self.speed
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
    marker = node.get_closest_marker(MARKER) if node is not None else None
    if marker is not None:
        unknown = sorted(set(marker.kwargs) - set(OPTION_NAMES))
        if marker.args or unknown:
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER} takes only keyword arguments among "
                f"{', '.join(OPTION_NAMES)}; got {list(marker.args) + unknown}"
            )
        values.update(marker.kwargs)
    return MockFTOptions(**values)
