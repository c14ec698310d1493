"""The service's clock: persisted so virtual time continues across restarts, and driven
by the control API."""

from __future__ import annotations

import json
import time
from typing import Any

from mockft import errors
from mockft.clock import Clock, ManualClock, SystemClock
from mockft.config import Settings
from mockft.store import Store

META_MANUAL_NOW = "clock.manual.now"
META_SYSTEM_ANCHOR = "clock.system.anchor"


def restore_clock(settings: Settings, store: Store) -> Clock:
    """Virtual time continues across restarts: the manual clock from its last value,
    the system clock from the anchor recorded when the data dir was first served."""
    if settings.clock == "manual":
        saved = store.get_meta(META_MANUAL_NOW)
        clock = ManualClock(settings.start_time if saved is None else float(saved))
        store.set_meta(META_MANUAL_NOW, repr(clock.now()))
        return clock
    wall = time.time()
    saved = store.get_meta(META_SYSTEM_ANCHOR)
    if saved is None:
        store.set_meta(META_SYSTEM_ANCHOR, json.dumps([wall, wall]))
        return SystemClock(settings.speed)
    anchor_virtual, anchor_wall = json.loads(saved)
    virtual_now = anchor_virtual + (wall - anchor_wall) * settings.speed
    return SystemClock(settings.speed, anchor=max(virtual_now, anchor_virtual))


class ClockControl:
    def __init__(self, clock: Clock, store: Store) -> None:
        self.clock = clock
        self.store = store

    @property
    def mode(self) -> str:
        return self.clock.mode

    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        if not isinstance(self.clock, ManualClock):
            raise errors.invalid(
                "The clock can only be advanced in manual mode (start with --clock manual).",
                "seconds",
            )
        if seconds < 0:
            raise errors.below_minimum("seconds", 0, seconds)
        now = self.clock.advance(seconds)
        self.save()
        return now

    def set(self, now: float) -> float:
        if not isinstance(self.clock, ManualClock):
            raise errors.invalid("The clock can only be set in manual mode.", "now")
        if now < self.clock.now():
            raise errors.below_minimum("now", self.clock.now(), now)
        self.clock.set(now)
        self.save()
        return now

    def set_speed(self, speed: float) -> float:
        if not isinstance(self.clock, SystemClock):
            raise errors.invalid("The speed can only be set on the system clock.", "speed")
        if speed <= 0:
            raise errors.below_minimum("speed", 0, speed, inclusive=False)
        self.clock.set_speed(speed)
        self.save()
        return speed

    def state(self) -> dict[str, Any]:
        return {"now": self.clock.now(), "mode": self.clock.mode, "speed": self.clock.speed}

    def save(self) -> None:
        if isinstance(self.clock, ManualClock):
            self.store.set_meta(META_MANUAL_NOW, repr(self.clock.now()))
