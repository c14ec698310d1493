"""Heavy work off the event loop: validating a training file, writing a result file.

The work is deterministic (its outcome is a function of its inputs), so it may run when
it is first asked for, run again after a restart, and still agree with itself. What the
work produces is recorded by the operation that needs it, on the caller's side: nothing
here changes state behind anyone's back.

An operation that needs the outcome of work still running waits for it, unless its caller
said it would rather await (`deferring()`, as the routes do: the event loop must not
block): then it raises `Pending`, the route awaits `Pending.wait()` and runs the operation
again, and every other request is served meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
Submit = Callable[[Callable[[], T]], Future[T]]
WORKERS = 2
THREAD_NAME = "mockft-work"


class Pending(Exception):
    """The operation needs work that is still running; await `wait()` and try again."""

    def __init__(self, future: Future[Any]) -> None:
        super().__init__("work in progress")
        self.future = future

    async def wait(self) -> None:
        with contextlib.suppress(Exception):  # the retried operation meets the error itself
            await asyncio.wrap_future(self.future)


_DEFERRING: ContextVar[bool] = ContextVar("mockft_deferring", default=False)


class deferring:  # noqa: N801 - used like the function-style context managers
    """Inside: an operation that needs work still running raises `Pending` (for its caller
    to await) instead of waiting for it."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _DEFERRING.set(True)

    def __exit__(self, *exc_info: object) -> None:
        _DEFERRING.reset(self._token)


def settle(future: Future[T]) -> T:
    """The outcome of `future`: at once if it is done, else by waiting for it, or `Pending`
    when `deferring()`."""
    if not future.done() and _DEFERRING.get():
        raise Pending(future)
    return future.result()


class Work:
    """Keyed work on a small thread pool: one run per key until it is forgotten."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._runs: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()

    def start(self, key: str, task: Callable[[], T], submit: Submit[T] | None = None) -> Future[T]:
        """Start `task` under `key` unless a run of that key exists; returns the run. It runs
        on this pool's threads, or where `submit` sends it (the store's disk threads, for
        work that waits for the disk rather than computes)."""
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                if submit is None:
                    if self._executor is None:
                        self._executor = ThreadPoolExecutor(self._workers, THREAD_NAME)
                    submit = self._executor.submit
                run = self._runs[key] = submit(task)
            return run

    def running(self, key: str) -> bool:
        """Whether a run of `key` exists (started and not forgotten)."""
        with self._lock:
            return key in self._runs

    def outcome(self, key: str, task: Callable[[], T], submit: Submit[T] | None = None) -> T:
        """The outcome of the run of `key` (started with `task` if there is none): at once
        if it is done, else by waiting, or `Pending` when `deferring()`. A run that failed
        is forgotten, so the next call runs it again."""
        run = self.start(key, task, submit)
        if not run.done() and _DEFERRING.get():
            raise Pending(run)
        try:
            return run.result()
        except BaseException:
            self.forget(key)
            raise

    def forget(self, key: str) -> None:
        """Drop the run of `key` (its outcome has been recorded elsewhere)."""
        with self._lock:
            self._runs.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
            self._runs.clear()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
