"""The store's disk threads: whatever waits for the disk (a batch of a blob's bytes written,
a deleted blob's pages freed, SQLite's WAL copied into the database and synced) waits there,
never on the event loop. They only move bytes; nothing about the service's state is decided
there, so what they do changes no answer, only when the disk is busy."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

THREADS = 4
_POOL = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="mockft-disk")


def submit(task: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
    """Run `task(*args, **kwargs)` on a disk thread."""
    return _POOL.submit(task, *args, **kwargs)


def start() -> None:
    """Start every disk thread now (a data dir's stores call it as they open): a thread
    started when first needed is started on the event loop, which waits for it to run, as
    long as a busy machine takes to give it a CPU."""
    everyone = threading.Barrier(THREADS + 1)
    for _ in range(THREADS):  # none of them idle until all have started: one thread each
        _POOL.submit(everyone.wait)
    everyone.wait()
