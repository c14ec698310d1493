"""The service's clock: restored so that virtual time never decreases for a data dir, kept
in the store whenever it changes, and driven by the control API.

The stored record is rewritten on every change (start, speed, a manual move) and, while a
system clock runs, at most once per `REFRESH_SECONDS` of real time when the clock is read.
A restart resumes from what the stored record says *now*: a system record goes on at its
own speed from its anchor, which is at least anything served before a kill -9 (the
refresh bounds what a wall clock stepped back between two runs could take away).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mockft import errors
from mockft.clock import (
    MAX_INSTANT,
    MAX_SPEED,
    ClockMode,
    ClockRecord,
    ManualClock,
    SystemClock,
    bounded_instant,
)
from mockft.config import Settings
from mockft.store import Store

META_CLOCK = "clock"
# Written by earlier versions: the manual clock's now, and [virtual, wall] of the system
# clock's first start. Read once, folded into META_CLOCK, then removed.
LEGACY_MANUAL_NOW = "clock.manual.now"
LEGACY_SYSTEM_ANCHOR = "clock.system.anchor"
REFRESH_SECONDS = 1.0
# The longest single move of the manual clock: a thousand years.
MAX_ADVANCE_SECONDS = 1000 * 365 * 86_400

log = logging.getLogger("mockft")


def stored_instant(store: Store, settings: Settings, wall_now: float) -> float | None:
    """The latest instant any stored clock record vouches for at `wall_now`, or None for a
    data dir that was never served. Unreadable records are ignored (and logged)."""
    instants: list[float] = []
    text = store.get_meta(META_CLOCK)
    if text is not None:
        record = ClockRecord.loads(text)
        if record is None:
            log.warning("ignoring an unreadable stored clock: %.200s", text)
        else:
            instants.append(record.at(wall_now))
    manual = store.get_meta(LEGACY_MANUAL_NOW)
    if manual is not None:
        instants.append(_legacy_number(manual))
    anchor = store.get_meta(LEGACY_SYSTEM_ANCHOR)
    if anchor is not None:
        try:
            virtual, wall = (float(x) for x in json.loads(anchor))
            legacy = ClockRecord("system", bounded_instant(virtual), wall, settings.speed)
            instants.append(legacy.at(wall_now))
        except (ValueError, TypeError, OverflowError):
            log.warning("ignoring an unreadable stored clock anchor: %.200s", anchor)
    return max(instants) if instants else None


def _legacy_number(text: str) -> float:
    try:
        return bounded_instant(float(text))
    except (ValueError, OverflowError):
        return 0.0


class ClockControl:
    """The clock every part of the service reads (`now()`), and the operations that move
    it. Moves are bounded and checked here, so the HTTP control API, the pytest handle and
    the CLI get the same answers."""

    def __init__(
        self,
        clock: SystemClock | ManualClock,
        store: Store,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.store = store
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._saved_at = monotonic()
        self._save_failed = False

    @classmethod
    def restore(cls, settings: Settings, store: Store) -> ClockControl:
        """Continue from the stored clock (never earlier than anything it served), in the
        mode and at the speed the settings ask for now."""
        wall_now = time.time()
        resume = stored_instant(store, settings, wall_now)
        clock: SystemClock | ManualClock
        if settings.clock == "manual":
            start = resume if resume is not None else settings.start_time
            clock = ManualClock(start)
        else:
            start = resume if resume is not None else settings.start_time
            clock = SystemClock(settings.speed, anchor=start)
        control = cls(clock, store)
        control.save()
        for key in (LEGACY_MANUAL_NOW, LEGACY_SYSTEM_ANCHOR):
            if store.get_meta(key) is not None:
                store.delete_meta(key)
        return control

    # -- the Clock protocol ---------------------------------------------------------------

    @property
    def mode(self) -> ClockMode:
        return self.clock.mode

    @property
    def speed(self) -> float:
        return self.clock.speed

    def now(self) -> float:
        now = self.clock.now()
        if (
            isinstance(self.clock, SystemClock)
            and self._monotonic() - self._saved_at >= REFRESH_SECONDS
            and self._lock.acquire(blocking=False)  # a move in progress saves anyway
        ):
            try:
                self._save_locked()
            finally:
                self._lock.release()
        return now

    # -- moves ----------------------------------------------------------------------------

    def advance(self, seconds: float) -> float:
        clock = self._manual(
            "The clock can only be advanced in manual mode (start with --clock manual).", "seconds"
        )
        with self._lock:
            _check_range("seconds", seconds, 0, MAX_ADVANCE_SECONDS)
            if seconds > MAX_INSTANT - clock.now():
                raise errors.above_maximum("seconds", int(MAX_INSTANT - clock.now()), seconds)
            previous = clock.now()
            now = clock.advance(float(seconds))
            self._keep_or_undo(lambda: clock.restart(previous))
        return now

    def set(self, now: float) -> float:
        clock = self._manual("The clock can only be set in manual mode.", "now")
        with self._lock:
            current = clock.now()
            _check_range("now", now, current, MAX_INSTANT)
            clock.set(float(now))
            self._keep_or_undo(lambda: clock.restart(current))
        return clock.now()

    def set_speed(self, speed: float) -> float:
        clock = self.clock
        if not isinstance(clock, SystemClock):
            raise errors.invalid("The speed can only be set on the system clock.", "speed")
        with self._lock:
            _check_range("speed", speed, 0, MAX_SPEED, low_inclusive=False)
            previous = clock.speed
            clock.set_speed(float(speed))
            self._keep_or_undo(lambda: clock.set_speed(previous))
        return clock.speed

    def restart(self, now: float) -> None:
        """Back to `now`, earlier too: only for a store that forgot everything with it (the
        pytest fixtures' reset of an in-memory app)."""
        if not isinstance(self.clock, ManualClock):
            return
        with self._lock:
            self.clock.restart(now)
            self._save_locked()

    def _manual(self, message: str, param: str) -> ManualClock:
        if not isinstance(self.clock, ManualClock):
            raise errors.invalid(message, param)
        return self.clock

    # -- state ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"now": self.now(), "mode": self.clock.mode, "speed": self.clock.speed}

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    def _keep_or_undo(self, undo: Callable[[], None]) -> None:
        """Store a move, or take it back if it cannot be stored (a full disk): nothing is
        served from an instant a restart would not resume from."""
        try:
            self._save_locked(strict=True)
        except BaseException:
            undo()
            raise

    def _save_locked(self, *, strict: bool = False) -> None:
        """Store the clock's record. A failed refresh (a full disk) is logged and retried
        later; a move that cannot be stored fails (`strict`)."""
        self._saved_at = self._monotonic()
        try:
            self.store.set_meta(META_CLOCK, self.clock.record().dumps())
        except Exception:
            if strict:
                raise
            if not self._save_failed:
                log.warning("could not store the clock; will retry", exc_info=True)
            self._save_failed = True
        else:
            self._save_failed = False


def _check_range(
    name: str, value: float, low: float, high: float, *, low_inclusive: bool = True
) -> None:
    """`value` (any JSON number: an integer of any size, a float) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.invalid_type(name, "a number", type(value).__name__)
    if value != value:  # NaN (the pytest handle can pass one; JSON cannot)
        raise errors.invalid_type(name, "a number", "NaN")
    if value < low or (value == low and not low_inclusive):
        raise errors.below_minimum(name, _shown(low), value, inclusive=low_inclusive)
    if value > high:
        raise errors.above_maximum(name, _shown(high), value)


def _shown(bound: float) -> float:
    return int(bound) if float(bound).is_integer() else bound
