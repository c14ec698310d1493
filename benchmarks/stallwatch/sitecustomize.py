"""A diagnostic, not part of mockft: what keeps a `mockft serve` event loop from answering.

Put this directory first on PYTHONPATH and name a log file in STALLWATCH_LOG (the soak does
both: `python -m benchmarks.soak --watch`). In a `mockft serve` process, and only there, a
daemon thread then pings the event loop (`call_soon_threadsafe`) every SAMPLE_SECONDS and
times how long the ping waits to run: that wait is what any request arriving then would wait
before the loop looked at it. While a ping waits, the thread samples the main thread's stack
every SAMPLE_SECONDS. A ping that waited more than STALL_SECONDS (80 ms, or STALLWATCH_MS)
is one JSON line:

    {"ms": the wait, "at": when it ended (epoch seconds),
     "on_cpu_ms" / "cpu_wait_ms": the main thread's time on a CPU / runnable but waiting
         for one (from /proc/self/task/<tid>/schedstat) over the wait: a wait spent mostly
         runnable-but-not-running is the machine's load, not the server's doing,
     "samples": stacks sampled during the wait,
     "stacks": the most frequent of them (innermost first) with their counts}

A blocking call (an fsync, an unlink) shows as one stack sampled throughout (the sampler
runs while the main thread waits in a system call); long CPU work as many samples under one
request; a machine too loaded to run the process as few samples (the sampler did not run
either) and a large "cpu_wait_ms" or, when a preempted thread held the GIL, neither.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

SAMPLE_SECONDS = 0.005
STALL_SECONDS = float(os.environ.get("STALLWATCH_MS", "80")) / 1000
IDLE = {("runners.py", "run"), ("selectors.py", "select"), ("base_events.py", "_run_once")}
_loop: list[Any] = []


def _serving() -> bool:
    try:
        with open("/proc/self/cmdline", "rb") as cmdline:
            argv = cmdline.read().split(b"\0")
    except OSError:
        return False
    return any(b"mockft" in arg for arg in argv) and b"serve" in argv


def _schedstat(tid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of thread `tid` so far."""
    try:
        with open(f"/proc/self/task/{tid}/schedstat") as stat:
            on_cpu, waiting, _ = stat.read().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def _stack(frame: Any) -> tuple[str, ...] | None:
    """The stack innermost first, as "file:line function"; None when the loop is idle."""
    code = frame.f_code
    if (os.path.basename(code.co_filename), code.co_name) in IDLE:
        return None
    lines = []
    while frame is not None and len(lines) < 20:
        code = frame.f_code
        name = code.co_filename.rsplit("/site-packages/", 1)[-1].rsplit("/mockft/", 1)[-1]
        lines.append(f"{name}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back
    return tuple(lines)


def _watch(log_path: str) -> None:
    while not _loop:
        time.sleep(0.05)
    loop = _loop[0]
    main = threading.main_thread()
    tid = main.native_id or 0
    out = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    while True:
        ran: list[float] = []
        posted, stat = time.monotonic(), _schedstat(tid)
        try:
            loop.call_soon_threadsafe(lambda: ran.append(time.monotonic()))
        except RuntimeError:  # the loop closed: the server is stopping
            return
        samples: Counter[tuple[str, ...] | None] = Counter()
        while not ran:
            time.sleep(SAMPLE_SECONDS)
            frame = sys._current_frames().get(main.ident or 0)
            if frame is None:
                return
            samples[_stack(frame)] += 1
        waited = ran[0] - posted
        if waited > STALL_SECONDS:
            now_stat = _schedstat(tid)
            busy = [(list(s), n) for s, n in samples.most_common() if s is not None]
            record = {
                "ms": round(waited * 1000, 1),
                "at": round(time.time(), 3),
                "on_cpu_ms": round((now_stat[0] - stat[0]) * 1000, 1),
                "cpu_wait_ms": round((now_stat[1] - stat[1]) * 1000, 1),
                "samples": sum(samples.values()),
                "idle_samples": samples[None],
                "stacks": busy[:3],
            }
            out.write(json.dumps(record) + "\n")
        time.sleep(SAMPLE_SECONDS)


def _install(log_path: str) -> None:
    """Learn the event loop when the main thread starts running it, then watch it."""
    import asyncio

    set_running_loop = asyncio.events._set_running_loop

    def noting(loop: Any) -> None:
        if loop is not None and threading.current_thread() is threading.main_thread():
            _loop.append(loop)
        set_running_loop(loop)

    asyncio.events._set_running_loop = asyncio._set_running_loop = noting  # uvloop's
    threading.Thread(target=_watch, args=(log_path,), daemon=True, name="stallwatch").start()


if os.environ.get("STALLWATCH_LOG") and _serving():
    _install(os.environ["STALLWATCH_LOG"])
