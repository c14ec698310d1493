"""Sending webhooks: the one background task mockft has.

A round looks at the clock once: it makes the events of the jobs that have ended by then
(`Webhooks.collect`), then makes every attempt due by then, concurrently, each with a short
timeout, and records how each went. The task exists only while a server runs with webhook
endpoints configured; it sleeps until the next instant something is due (on a system clock,
that instant's distance divided by the speed; on a manual clock, until the clock moves), or
until something changes (a job is written, the clock moves, an endpoint is added), and it
never changes a job: a job's end is a function of its timeline, the task only observes it.

Where no task runs (the pytest plugin's in-process app), a round runs when asked: on every
clock advance through the control API (`settle`), and on the plugin's `advance()` and
`webhooks.received` (`deliver_now`, from the test's thread). `POST /mockft/clock/advance`
answers once the round its move started is done, so after it the attempts due by the new
instant have been made (each at most `TIMEOUT_SECONDS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mockft.clock import Clock
from mockft.service.webhooks import BATCH, Outgoing, Result, Webhooks
from mockft.service.work import Pending, deferring

log = logging.getLogger("mockft")

TIMEOUT_SECONDS = 5.0  # connect, write and wait for the answer's status line
MAX_SLEEP_SECONDS = 60.0  # a sleeping task looks again at least this often (real seconds)
BUSY_SLEEP_SECONDS = 0.05  # something is due but claimed by another round: look again soon
SETTLE_TIMEOUT_SECONDS = 60.0
ERROR_EXCERPT = 200


class Delivery:
    def __init__(self, webhooks: Webhooks, clock: Clock) -> None:
        self.webhooks = webhooks
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._done: asyncio.Condition | None = None
        self._requested = 0
        self._completed = 0
        self._client: Any = None
        self._sync_lock = threading.Lock()
        webhooks.jobs.listeners.append(self.wake)

    # -- the background task (a running server) -------------------------------------------------

    async def start(self) -> None:
        """Allow the background task on this loop (the server's lifespan), and start it if
        endpoints are configured."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._done = asyncio.Condition()
        self.ensure_running()

    def ensure_running(self) -> None:
        """Start the task if it is allowed, endpoints exist and it is not running (call on
        the server's loop)."""
        if self._loop is None or not self.webhooks.active:
            return
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._run(), name="mockft-webhooks")
        else:
            self.wake()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Look again now (thread-safe): a job was written, the clock moved, ..."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or not self.running:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(wake.set)

    async def stop(self) -> None:
        task, self._task, self._loop = self._task, None, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def _run(self) -> None:
        assert self._wake is not None and self._done is not None
        while self.webhooks.active:
            self._wake.clear()
            started = self._requested
            try:
                await self._round()
            except Exception:  # a round must not end the task: log, and try again later
                log.exception("webhook delivery round failed")
            self._completed = started
            async with self._done:
                self._done.notify_all()
            delay = self._delay()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
        async with self._done:
            self._done.notify_all()

    def _delay(self) -> float | None:
        """Real seconds until something is due (None: until woken)."""
        due = self.webhooks.next_due()
        if due is None:
            return None
        now = self._clock.now()
        if due <= now:
            return BUSY_SLEEP_SECONDS
        if self._clock.mode == "manual":
            return None
        speed = float(self._clock.speed)
        return min(MAX_SLEEP_SECONDS, max(BUSY_SLEEP_SECONDS, (due - now) / speed))

    async def settle(self) -> None:
        """Make every attempt due by now, and return when they are done: through the task
        when it runs on this loop, else in a round of its own."""
        if not self.webhooks.active:
            return
        if not self.running or asyncio.get_running_loop() is not self._loop:
            await self._round()
            return
        assert self._wake is not None and self._done is not None
        self._requested += 1
        target = self._requested
        self._wake.set()
        with contextlib.suppress(asyncio.TimeoutError):
            async with self._done:
                await asyncio.wait_for(
                    self._done.wait_for(lambda: self._completed >= target or not self.running),
                    SETTLE_TIMEOUT_SECONDS,
                )
        if self._completed < target:
            await self._round()

    async def _round(self) -> None:
        """Everything due by one instant: the events, then every attempt, a batch at a
        time (a recorded attempt is no longer due at this instant)."""
        with self.webhooks.ctx.instant() as now, deferring():
            while True:
                try:
                    self.webhooks.collect(now)
                    break
                except Pending as pending:  # a job's validation or results: await, go on
                    await pending.wait()
            while outgoing := self.webhooks.due(now):
                results = await asyncio.gather(*(self._send(o) for o in outgoing))
                for sent, result in zip(outgoing, results):
                    self.webhooks.record(sent, result, now)
                if len(outgoing) < BATCH:
                    break

    async def _send(self, outgoing: Outgoing) -> Result:
        timestamp = int(time.time())
        headers = outgoing.headers(timestamp)
        receiver = self.webhooks.receiver(outgoing.url)
        if receiver is not None:
            return _local(receiver, outgoing, headers, timestamp)
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False)
        try:
            async with self._client.stream(
                "POST", outgoing.url, content=outgoing.body, headers=headers
            ) as response:
                return Result(timestamp, response.status_code)
        except (httpx.HTTPError, OSError) as exc:
            return Result(timestamp, None, _error(exc))

    # -- from a thread (the pytest plugin) ------------------------------------------------------

    def deliver_now(self) -> None:
        """Make every attempt due by now and return when they are done, from a thread that
        is not the server's loop (a test's): through the task when a server runs one, else
        here, synchronously."""
        if not self.webhooks.active:
            return
        loop = self._loop
        if self.running and loop is not None:
            future = asyncio.run_coroutine_threadsafe(self.settle(), loop)
            future.result(SETTLE_TIMEOUT_SECONDS)
            return
        with self._sync_lock, self.webhooks.ctx.instant() as now:
            self.webhooks.collect(now)
            while outgoing := self.webhooks.due(now):
                for sent in outgoing:
                    self.webhooks.record(sent, self._send_sync(sent), now)
                if len(outgoing) < BATCH:
                    break

    def _send_sync(self, outgoing: Outgoing) -> Result:
        timestamp = int(time.time())
        headers = outgoing.headers(timestamp)
        receiver = self.webhooks.receiver(outgoing.url)
        if receiver is not None:
            return _local(receiver, outgoing, headers, timestamp)
        import httpx

        try:
            with (
                httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client,
                client.stream(
                    "POST", outgoing.url, content=outgoing.body, headers=headers
                ) as response,
            ):
                return Result(timestamp, response.status_code)
        except (httpx.HTTPError, OSError) as exc:
            return Result(timestamp, None, _error(exc))


def _local(
    receiver: Callable[[bytes, dict[str, str]], int],
    outgoing: Outgoing,
    headers: dict[str, str],
    timestamp: int,
) -> Result:
    try:
        return Result(timestamp, int(receiver(outgoing.body, headers)))
    except Exception as exc:  # the test's receiver raised: a failed attempt, as a 500 would be
        return Result(timestamp, None, _error(exc))


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    return text[:ERROR_EXCERPT]
