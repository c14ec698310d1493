"""The store's disk threads: whatever waits for the disk (a batch of a blob's bytes written,
a deleted blob's pages freed, SQLite's WAL copied into the database and synced) waits there,
never on the event loop. They only move bytes; nothing about the service's state is decided
there, so what they do changes no answer, only when the disk is busy."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

THREADS = 4
_HERE = threading.local()  # `disk` is set on the disk threads


def _mark() -> None:
    _HERE.disk = True


_POOL = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="mockft-disk", initializer=_mark)


class _Task(Future[T]):
    """A disk thread's task, as its own future: run by the first of the pool or a disk
    thread that waits for it (`wait`)."""

    def __init__(self, work: Callable[[], T]) -> None:
        super().__init__()
        self._work = work
        self._claim = threading.Lock()
        self._claimed = False

    def run(self) -> None:
        """Run the task here, unless it has been run, is running or was cancelled."""
        with self._claim:
            if self._claimed:
                return
            self._claimed = True
        if not self.set_running_or_notify_cancel():
            return
        try:
            result = self._work()
        except BaseException as exc:  # the waiter's to see (a full disk, say)
            self.set_exception(exc)
        else:
            self.set_result(result)


def submit(task: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
    """Run `task(*args, **kwargs)` on a disk thread."""
    queued: _Task[T] = _Task(functools.partial(task, *args, **kwargs))
    _POOL.submit(queued.run)
    return queued


def wait(future: Future[T]) -> T:
    """The outcome of `future`. On a disk thread, a disk task still queued is run right
    here: a disk thread waiting for a task queued behind it would hold a thread the task may
    need, and with every disk thread waiting so (four uploads flushing at once, say) nothing
    would be left to run what they wait for."""
    if isinstance(future, _Task) and getattr(_HERE, "disk", False):
        future.run()
    return future.result()


def start() -> None:
    """Start every disk thread now (a data dir's stores call it as they open): a thread
    started when first needed is started on the event loop, which waits for it to run, as
    long as a busy machine takes to give it a CPU."""
    everyone = threading.Barrier(THREADS + 1)
    for _ in range(THREADS):  # none of them idle until all have started: one thread each
        _POOL.submit(everyone.wait)
    everyone.wait()
