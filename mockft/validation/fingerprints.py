"""Duplicate detection in bounded memory: a set of 64-bit line fingerprints."""

from __future__ import annotations

from array import array
from typing import Final

# Open addressing, at most FINGERPRINT_MAX_SLOTS slots (8 MiB); a table that is
# FINGERPRINT_MAX_FILL full stops remembering new lines.
FINGERPRINT_INITIAL_SLOTS: Final = 1 << 12
FINGERPRINT_MAX_SLOTS: Final = 1 << 20
FINGERPRINT_MAX_FILL: Final = 0.75
FINGERPRINT_MASK: Final = (1 << 64) - 1


class Fingerprints:
    """A set of 64-bit fingerprints in an open-addressing table that never grows past
    FINGERPRINT_MAX_SLOTS; once that is FINGERPRINT_MAX_FILL full, new lines are only
    compared, not remembered."""

    def __init__(self, max_slots: int = FINGERPRINT_MAX_SLOTS) -> None:
        self._slots = array("Q", bytes(8 * min(FINGERPRINT_INITIAL_SLOTS, max_slots)))
        self._max_slots = max_slots
        self._used = 0

    def seen_before(self, value: int) -> bool:
        """Whether ``value`` was added before; adds it if there is room."""
        fingerprint = (value & FINGERPRINT_MASK) or 1  # 0 marks an empty slot
        slots = self._slots
        mask = len(slots) - 1
        index = fingerprint & mask
        while True:
            current = slots[index]
            if current == fingerprint:
                return True
            if current == 0:
                break
            index = (index + 1) & mask
        if self._used >= len(slots) * FINGERPRINT_MAX_FILL:
            if len(slots) >= self._max_slots:
                return False
            self._grow()
            return self.seen_before(value)
        slots[index] = fingerprint
        self._used += 1
        return False

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("Q", bytes(16 * len(old)))
        mask = len(self._slots) - 1
        for fingerprint in old:
            if fingerprint:
                index = fingerprint & mask
                while self._slots[index]:
                    index = (index + 1) & mask
                self._slots[index] = fingerprint
