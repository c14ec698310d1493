"""The request log: every request outside the control API, as the client saw it, so that
retries (and the faults chaos injected) are visible to a test."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

REQUEST_OBJECT = "mockft.request"
MAX_LOGGED_REQUESTS = 10_000


@dataclass(slots=True)
class LoggedRequest:
    seq: int
    method: str
    path: str
    status: int | None = None
    """None when no response was sent (a dropped or held connection)."""
    chaos_rule: str | None = None
    request_id: str | None = None
    org: str | None = None
    """The organization of the key that made it; None until (unless) it authenticated."""

    @property
    def chaos(self) -> bool:
        return self.chaos_rule is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": REQUEST_OBJECT,
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "chaos": self.chaos,
            "chaos_rule": self.chaos_rule,
            "request_id": self.request_id,
        }


class RequestLog:
    """The last `limit` requests outside the control API, oldest first.

    An entry is added when a request arrives and completed as its answer starts (or
    chaos takes it), so a client never sees an answer its entry does not show yet."""

    def __init__(self, limit: int = MAX_LOGGED_REQUESTS) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._next_seq = 1

    def open(self, method: str, path: str) -> LoggedRequest:
        with self._lock:
            entry = LoggedRequest(self._next_seq, method, path)
            self._next_seq += 1
            self._entries.append(entry)
        return entry

    def entries(self, org: str | None = None) -> list[LoggedRequest]:
        """Copies (entries of requests in flight still change): every entry, or (`org`)
        that organization's."""
        with self._lock:
            return [replace(e) for e in self._entries if org is None or e.org == org]

    def clear(self, org: str | None = None) -> int:
        with self._lock:
            count = len(self._entries)
            if org is None:
                self._entries.clear()
                return count
            kept = [e for e in self._entries if e.org != org]
            self._entries = deque(kept, maxlen=self._entries.maxlen)
        return count - len(kept)
