"""Where "now" comes from. State is a function of the clock, so tests that own
the clock own every job's progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, Protocol

ClockMode = Literal["system", "manual"]


class Clock(Protocol):
    @property
    def mode(self) -> ClockMode: ...

    @property
    def speed(self) -> float: ...

    def now(self) -> float:
        """Virtual unix time in seconds."""
        ...


class SystemClock:
    """Wall time scaled by `speed` around an anchor: virtual = anchor + (wall - wall0) * speed.

    The anchor is kept by the service so that virtual time continues across restarts."""

    mode: ClockMode = "system"

    def __init__(
        self,
        speed: float = 1.0,
        *,
        anchor: float | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._wall = wall
        self._wall0 = wall()
        self._anchor = self._wall0 if anchor is None else anchor
        self._speed = speed

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        return self._anchor + (self._wall() - self._wall0) * self._speed

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._anchor, self._wall0, self._speed = self.now(), self._wall(), speed


class ManualClock:
    """Moves only when told to: `advance()` or `set()`."""

    mode: ClockMode = "manual"
    speed = 0.0

    def __init__(self, start: float | None = None) -> None:
        self._now = float(int(time.time())) if start is None else float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._now += seconds
        return self._now

    def set(self, now: float) -> float:
        self._now = float(now)
        return self._now
