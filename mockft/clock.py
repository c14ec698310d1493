"""Where "now" comes from. State is a function of the clock, so tests that own
the clock own every job's progress.

Virtual time never runs backwards for a data dir. A clock describes itself as a
`ClockRecord` (which mode, which virtual instant at which wall-clock instant, how fast);
the service stores the record whenever it changes and resumes from what the stored record
says *now*, so nothing served before a restart, a kill -9, a speed change or a switch of
mode is ever rewound.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

ClockMode = Literal["system", "manual"]
CLOCK_MODES: tuple[ClockMode, ...] = ("system", "manual")

# The last instant a clock may reach: 9999-12-31T23:59:59Z. Every timestamp the API writes
# is an integer of unix seconds that SQLite stores and clients parse as a date.
MAX_INSTANT = 253_402_300_799
# The fastest system clock: a virtual year in about half a real minute.
MAX_SPEED = 1_000_000.0


class Clock(Protocol):
    @property
    def mode(self) -> ClockMode: ...

    @property
    def speed(self) -> float: ...

    def now(self) -> float:
        """Virtual unix time in seconds."""
        ...


@dataclass(frozen=True)
class ClockRecord:
    """A clock as stored: at wall-clock time `wall` it read `virtual`, and (a system clock)
    it runs at `speed` virtual seconds per real second from there."""

    mode: ClockMode
    virtual: float
    wall: float
    speed: float = 0.0

    def at(self, wall_now: float) -> float:
        """What the clock reads at `wall_now`, as the record describes it; never less than
        the recorded instant (a wall clock stepped back does not rewind it)."""
        if self.mode == "manual":
            return self.virtual
        elapsed = max(0.0, wall_now - self.wall)
        return min(float(MAX_INSTANT), self.virtual + elapsed * self.speed)

    def dumps(self) -> str:
        return json.dumps(
            {"mode": self.mode, "virtual": self.virtual, "wall": self.wall, "speed": self.speed}
        )

    @classmethod
    def loads(cls, text: str) -> ClockRecord | None:
        """The stored record, with every number brought within bounds; None if the text is
        not a record at all (a stored value never keeps the server from starting)."""
        try:
            data = json.loads(text)
            mode = data["mode"]
            numbers = [float(data[name]) for name in ("virtual", "wall", "speed")]
        except (ValueError, TypeError, KeyError, OverflowError):
            return None
        if mode not in CLOCK_MODES or not all(math.isfinite(n) for n in numbers[1:]):
            return None
        virtual, wall, speed = numbers
        return cls(
            mode=mode,
            virtual=bounded_instant(virtual),
            wall=wall,
            speed=min(max(speed, 0.0), MAX_SPEED),
        )


def bounded_instant(value: float) -> float:
    """`value` within [0, MAX_INSTANT] (NaN counts as 0)."""
    if not value > 0:
        return 0.0
    return min(value, float(MAX_INSTANT))


class SystemClock:
    """Real time scaled by `speed` from an anchor: virtual = anchor + elapsed * speed.

    Elapsed time comes from the monotonic clock, so a wall clock stepped back (NTP, a
    suspended laptop) never turns virtual time back while the server runs."""

    mode: ClockMode = "system"

    def __init__(
        self,
        speed: float = 1.0,
        *,
        anchor: float | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_speed(speed)
        self._wall = wall
        self._monotonic = monotonic
        self._anchor = bounded_instant(wall() if anchor is None else anchor)
        self._mono0 = monotonic()
        self._speed = speed

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        elapsed = max(0.0, self._monotonic() - self._mono0)
        return min(float(MAX_INSTANT), self._anchor + elapsed * self._speed)

    def set_speed(self, speed: float) -> None:
        _check_speed(speed)
        self._anchor, self._mono0, self._speed = self.now(), self._monotonic(), speed

    def record(self) -> ClockRecord:
        return ClockRecord("system", self.now(), self._wall(), self._speed)


class ManualClock:
    """Moves only when told to: `advance()` or `set()`, and only forward."""

    mode: ClockMode = "manual"
    speed = 0.0

    def __init__(self, start: float | None = None, *, wall: Callable[[], float] = time.time):
        self._wall = wall
        self._now = bounded_instant(float(int(wall())) if start is None else float(start))

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if not 0 <= seconds <= MAX_INSTANT - self._now:
            raise ValueError("the clock only moves forward, and no further than MAX_INSTANT")
        self._now += seconds
        return self._now

    def set(self, now: float) -> float:
        if not self._now <= now <= MAX_INSTANT:
            raise ValueError("the clock only moves forward, and no further than MAX_INSTANT")
        self._now = float(now)
        return self._now

    def restart(self, now: float) -> None:
        """Set the clock anywhere, backwards too: only for a store that forgets everything
        with it (the pytest fixtures' in-memory reset)."""
        self._now = bounded_instant(float(now))

    def record(self) -> ClockRecord:
        return ClockRecord("manual", self._now, self._wall())


def _check_speed(speed: float) -> None:
    if not 0 < speed <= MAX_SPEED:
        raise ValueError(f"speed must be in (0, {MAX_SPEED:g}]")
