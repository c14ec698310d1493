"""Soak and abuse: a `mockft serve` under mixed load from many clients while one uploads a
large file, one creates a job on a large training file, one polls a long job and one sends
garbage. What it measures: the p99 latency of `GET /v1/models` throughout; what it checks
(the test in tests/test_soak.py asserts it): no 5xx for any request (every client fault is
a 4xx), nothing acknowledged lost (before and after a kill -9), the server's RSS bounded.

    python -m benchmarks.soak [--quick]     # this figure alone
    python -m benchmarks.soak --watch       # and what held the server's event loop

Prints the figure's table row and the run's counts as JSON. With `--watch` the server runs
with the diagnostic in benchmarks/stallwatch/ (see its docstring): the summary counts the
event loop's waits over 80 ms while the load ran, and names the file listing them."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mockft.config import Settings
from mockft.pytest_plugin.inprocess import MockFT
from mockft.pytest_plugin.live import ServeProcess, unused_tls

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
KEY = {"Authorization": "Bearer sk-soak"}
LINE = (
    b'{"messages": [{"role": "user", "content": "What is %d + %d?"}, '
    b'{"role": "assistant", "content": "%d, obviously."}]}\n'
)
P99_TARGET_MS = 50.0
UNUSED_TLS = unused_tls()  # the server is plain HTTP: the clients share one unused context


@dataclass(frozen=True)
class SoakConfig:
    clients: int = 50
    seconds: float = 60.0
    upload_mb: int = 100
    job_file_mb: int = 60
    long_job_examples: int = 2_000  # x 50 epochs at batch size 1: a 100,000-step job
    think_seconds: float = 0.15
    """A mixed client's mean pause between calls (uniform in [0, 2x]): a test suite, not a
    saturating load generator."""
    probe_interval: float = 0.02
    probe: bool = True
    """Run the latency probe (the figure). The test asserts no latency, so it runs none."""
    preload: bool = True
    """The server loads the vocabularies at start-up, as `mockft serve` does by default."""
    min_calls: int = 0
    """The load goes on past `seconds` until each kind of mixed call and each garbage attack
    was made this many times (the test's floor on what it covers, on any machine)."""
    seed: int = 0

    @classmethod
    def quick(cls) -> SoakConfig:
        """What CI runs: the same mix, smaller and shorter."""
        return cls(clients=12, seconds=6.0, upload_mb=16, job_file_mb=6, long_job_examples=40)


# -- the latency probe: its own process, so that the clients' threads do not share its GIL ---


async def _probe(port: int, seconds: float, interval: float) -> list[float]:
    import asyncio

    request = (
        f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {KEY['Authorization']}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            await reader.readexactly(length)
            if status.split()[1:2] == [b"200"]:
                latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
    finally:
        writer.close()
    return latencies


def start_probe(port: int, seconds: float, interval: float) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "benchmarks.soak", "--probe", str(port), str(seconds)]
    command += ["--interval", str(interval)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)


@dataclass
class SoakResult:
    requests: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    """How many times each kind of mixed call (MIXED_CALLS) and garbage attack was made."""
    server_errors: list[str] = field(default_factory=list)
    """Every answer of 500 or more, as "client: METHOD path -> status"."""
    client_failures: list[str] = field(default_factory=list)
    """Exceptions in the clients (a connection refused, a wrong byte read back, ...)."""
    models_ms: list[float] = field(default_factory=list)
    """GET /v1/models as the mixed clients saw it (their own process's threads included)."""
    probe_ms: list[float] = field(default_factory=list)
    """GET /v1/models from a probe process of its own, one call every `probe_interval`."""
    rss_mb: list[float] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)
    """file id -> sha256 of the bytes of every File the server acknowledged (and kept)."""
    jobs: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    """Acknowledged objects missing or different after the load, or after a kill -9."""
    stalls: list[dict[str, Any]] | None = None
    """With `--watch`: the event loop's waits over 80 ms while the load ran."""
    stalls_log: str | None = None

    @property
    def p99_ms(self) -> float:
        """Of the probe's calls: the server's latency, not the clients' scheduling."""
        return _p99(self.probe_ms)

    def summary(self) -> dict[str, object]:
        return {
            "requests": sum(self.requests.values()),
            "by_client": dict(self.requests),
            "server_errors": self.server_errors[:20],
            "client_failures": self.client_failures[:20],
            "probe_p50_ms": statistics.median(self.probe_ms) if self.probe_ms else None,
            "probe_p99_ms": self.p99_ms,
            "probe_max_ms": max(self.probe_ms, default=None),
            "probe_requests": len(self.probe_ms),
            "clients_models_p99_ms": _p99(self.models_ms),
            "clients_models_max_ms": max(self.models_ms, default=None),
            "rss_first_mb": self.rss_mb[0] if self.rss_mb else None,
            "rss_peak_mb": max(self.rss_mb, default=None),
            "acknowledged_files": len(self.acknowledged),
            "jobs": len(self.jobs),
            "lost": self.lost[:20],
            **({} if self.stalls is None else self.stall_summary()),
        }

    def stall_summary(self) -> dict[str, object]:
        stalls = self.stalls or []
        return {
            "loop_stalls_over_80ms": len(stalls),
            "loop_stalls_over_100ms": sum(1 for s in stalls if s["ms"] > 100),
            # The load-robust count: a call that held the loop 80 ms or more on one stack
            # while the watch kept sampling it (so the GIL was free and the process had a
            # CPU): I/O or a lock on the loop, whatever the machine's load.
            "loop_blocked_over_80ms": len(blocked := [s for s in stalls if _blocked(s)]),
            "loop_blocked": [
                f"{s['ms']:.0f} ms: {' <- '.join(s['stacks'][0][0][:3])}" for s in blocked
            ],
            "loop_stall_max_ms": max((s["ms"] for s in stalls), default=None),
            "loop_stalls_log": self.stalls_log,
        }


def _blocked(stall: dict[str, Any]) -> bool:
    """The stall watch sampled one stack for 80 ms or more of a stall (16 samples)."""
    stacks = stall["stacks"]
    return bool(stacks) and stacks[0][1] * 5 >= 80


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else float("nan")


# -- the server ------------------------------------------------------------------------------


STALLWATCH = ROOT / "benchmarks" / "stallwatch"


class Server(ServeProcess):
    """`mockft serve` on a data dir, killed with SIGKILL and restarted at will; with
    `stalls`, a file that the stall watch (benchmarks/stallwatch/) writes its findings to;
    without `preload`, not loading the vocabularies at start-up (as the test suite's servers)."""

    def __init__(self, data_dir: Path, stalls: Path | None = None, preload: bool = True) -> None:
        env = {} if preload else {"MOCKFT_PRELOAD_VOCABULARIES": "0"}
        if stalls is not None:
            path = os.pathsep.join(filter(None, [str(STALLWATCH), os.environ.get("PYTHONPATH")]))
            env |= {"PYTHONPATH": path, "STALLWATCH_LOG": str(stalls)}
        super().__init__("--data-dir", str(data_dir), "--log-level", "error", env=env)
        self.data_dir = data_dir

    @property
    def url(self) -> str:
        return self.root_url

    def rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


# -- the clients -----------------------------------------------------------------------------


def training_lines(size: int, start: int = 0) -> Iterator[bytes]:
    """Valid chat JSONL, about `size` bytes, in chunks of about a MB."""
    sent, n, chunk = 0, start, bytearray()
    while sent < size:
        line = LINE % (n, n, n + n)
        chunk += line
        sent += len(line)
        n += 1
        if len(chunk) >= MB:
            yield bytes(chunk)
            chunk.clear()
    if chunk:
        yield bytes(chunk)


def multipart_stream(
    chunks: Iterator[bytes], purpose: str, name: str, digest: Any
) -> tuple[str, Iterator[bytes]]:
    boundary = "soak" + os.urandom(8).hex()
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n{purpose}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        for chunk in chunks:
            digest.update(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    return f"multipart/form-data; boundary={boundary}", body()


MIXED_CALLS = ("models", "upload", "content", "delete", "parts", "files", "jobs", "clock")


def _mixed_call(roll: float, has_files: bool) -> str:
    """The kind of call a mixed client's `roll` makes (reading or deleting a file of its own
    needs one)."""
    if roll < 0.35:
        return "models"
    if roll < 0.5:
        return "upload"
    if roll < 0.6 and has_files:
        return "content"
    if roll < 0.67 and has_files:
        return "delete"
    if roll < 0.77:
        return "parts"
    if roll < 0.87:
        return "files"
    return "jobs" if roll < 0.95 else "clock"


class Load:
    """The clients of one run, sharing the result (guarded by a lock)."""

    def __init__(self, server: Server, config: SoakConfig) -> None:
        self.server = server
        self.config = config
        self.result = SoakResult()
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers=KEY, timeout=120, verify=UNUSED_TLS)

    def note(self, who: str, response: httpx.Response) -> httpx.Response:
        with self.lock:
            self.result.requests[who] += 1
            if response.status_code >= 500:
                request = response.request
                self.result.server_errors.append(
                    f"{who}: {request.method} {request.url.path[:80]} -> {response.status_code} "
                    f"{response.text[:200]}"
                )
        return response

    def tally(self, call: str) -> None:
        with self.lock:
            self.result.calls[call] += 1

    def covered(self) -> bool:
        """Each kind of call was made `config.min_calls` times."""
        floor = self.config.min_calls
        with self.lock:
            return all(self.result.calls[call] >= floor for call in (*MIXED_CALLS, *ATTACKS))

    def fail(self, who: str, exc: BaseException) -> None:
        with self.lock:
            self.result.client_failures.append(f"{who}: {type(exc).__name__}: {exc}"[:300])

    def guarded(self, who: str, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except Exception as exc:
                self.fail(who, exc)

        return run

    # a mixed client: the everyday calls of a test suite

    def mixed(self, index: int) -> None:
        rng = random.Random(self.config.seed * 1000 + index)
        mine: dict[str, str] = {}
        who = "mixed"
        with self.client() as http:
            while not self.stop.is_set():
                call = _mixed_call(rng.random(), bool(mine))
                self.tally(call)
                if call == "models":
                    started = time.perf_counter()
                    answer = self.note(who, http.get("/v1/models"))
                    elapsed = (time.perf_counter() - started) * 1000
                    if answer.status_code == 200:
                        with self.lock:
                            self.result.models_ms.append(elapsed)
                elif call == "upload":
                    data = b"".join(
                        training_lines(rng.randrange(200, 20_000), rng.randrange(10**6))
                    )
                    made = self.note(
                        who,
                        http.post(
                            "/v1/files",
                            files={"file": (f"c{index}.jsonl", data)},
                            data={"purpose": "fine-tune"},
                        ),
                    )
                    if made.status_code == 200:
                        mine[made.json()["id"]] = hashlib.sha256(data).hexdigest()
                        with self.lock:
                            self.result.acknowledged.update(mine)
                elif call == "content":
                    file_id = rng.choice(sorted(mine))
                    content = self.note(who, http.get(f"/v1/files/{file_id}/content"))
                    if hashlib.sha256(content.content).hexdigest() != mine[file_id]:
                        with self.lock:
                            self.result.lost.append(f"{file_id}: content differs under load")
                elif call == "delete":
                    file_id = rng.choice(sorted(mine))
                    with self.lock:  # not acknowledged any more once we ask to delete it
                        self.result.acknowledged.pop(file_id, None)
                    del mine[file_id]
                    self.note(who, http.delete(f"/v1/files/{file_id}"))
                elif call == "parts":
                    self.upload_in_parts(http, rng, mine, index)
                elif call == "files":
                    self.note(who, http.get("/v1/files", params={"limit": 20}))
                elif call == "jobs":
                    self.note(who, http.get("/v1/fine_tuning/jobs", params={"limit": 5}))
                else:
                    self.note(who, http.get("/mockft/clock"))
                self.stop.wait(rng.uniform(0, 2 * self.config.think_seconds))

    def upload_in_parts(
        self, http: httpx.Client, rng: random.Random, mine: dict[str, str], index: int
    ) -> None:
        who = "mixed"
        parts = [b"".join(training_lines(rng.randrange(100, 5_000), n)) for n in range(3)]
        whole = b"".join(parts)
        upload = self.note(
            who,
            http.post(
                "/v1/uploads",
                json={
                    "filename": f"u{index}.jsonl",
                    "purpose": "fine-tune",
                    "bytes": len(whole),
                    "mime_type": "text/jsonl",
                },
            ),
        )
        if upload.status_code != 200:
            return
        upload_id = upload.json()["id"]
        part_ids = []
        for part in parts:
            added = self.note(
                who, http.post(f"/v1/uploads/{upload_id}/parts", files={"data": ("p", part)})
            )
            if added.status_code != 200:
                return
            part_ids.append(added.json()["id"])
        done = self.note(
            who, http.post(f"/v1/uploads/{upload_id}/complete", json={"part_ids": part_ids})
        )
        if done.status_code == 200:
            file_id = done.json()["file"]["id"]
            mine[file_id] = hashlib.sha256(whole).hexdigest()
            with self.lock:
                self.result.acknowledged[file_id] = mine[file_id]

    # the heavy ones

    def big_upload(self) -> None:
        digest = hashlib.sha256()
        size = self.config.upload_mb * MB
        content_type, body = multipart_stream(training_lines(size), "batch", "big.jsonl", digest)
        with self.client() as http:
            made = self.note(
                "uploader",
                http.post("/v1/files", content=body, headers={"content-type": content_type}),
            )
        if made.status_code == 200:
            with self.lock:
                self.result.acknowledged[made.json()["id"]] = digest.hexdigest()

    def big_job(self) -> None:
        digest = hashlib.sha256()
        size = self.config.job_file_mb * MB
        content_type, body = multipart_stream(training_lines(size), "fine-tune", "t.jsonl", digest)
        with self.client() as http:
            made = self.note(
                "job", http.post("/v1/files", content=body, headers={"content-type": content_type})
            )
            if made.status_code != 200:
                return
            file_id = made.json()["id"]
            with self.lock:
                self.result.acknowledged[file_id] = digest.hexdigest()
            job = self.note(
                "job",
                http.post(
                    "/v1/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file_id}
                ),
            )
            if job.status_code == 200:
                with self.lock:
                    self.result.jobs.append(job.json()["id"])

    def long_job(self) -> str:
        data = b"".join(training_lines(self.config.long_job_examples * len(LINE) - 1))
        with self.client() as http:
            file_id = http.post(
                "/v1/files", files={"file": ("long.jsonl", data)}, data={"purpose": "fine-tune"}
            ).json()["id"]
            job = http.post(
                "/v1/fine_tuning/jobs",
                json={
                    "model": "gpt-4o-mini",
                    "training_file": file_id,
                    "hyperparameters": {"n_epochs": 50, "batch_size": 1},
                },
            ).json()
        with self.lock:
            self.result.acknowledged[file_id] = hashlib.sha256(data).hexdigest()
            self.result.jobs.append(job["id"])
        return str(job["id"])

    def poller(self, job_id: str) -> None:
        with self.client() as http:
            while not self.stop.is_set():
                self.note("poller", http.get(f"/v1/fine_tuning/jobs/{job_id}"))
                self.note("poller", http.get(f"/v1/fine_tuning/jobs/{job_id}/events"))
                time.sleep(0.05)

    # garbage: every answer must be a 4xx (or the connection closed on bytes that are not
    # HTTP at all)

    def garbage(self) -> None:
        rng = random.Random(self.config.seed)
        with self.client() as http:
            while not self.stop.is_set():
                for name, attack in zip(ATTACKS, GARBAGE):
                    if self.stop.is_set():
                        return
                    self.tally(name)
                    attack(self, http, rng)

    def raw(self, payload: bytes) -> None:
        """Bytes that may not even be HTTP: the server answers them (a 4xx), or waits for
        the rest (until its headers deadline), or hangs up."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=2) as sock:
            try:
                sock.sendall(payload)
                answer = sock.recv(4096)
            except OSError:
                return  # the server hung up on it: fine
        with self.lock:
            self.result.requests["garbage"] += 1
            status = answer.split(b" ", 2)[1:2]
            if status and status[0][:1] == b"5":
                self.result.server_errors.append(
                    f"garbage: raw {payload[:60]!r} -> {answer[:80]!r}"
                )


def _json(path: str, body: bytes) -> Callable[[Load, httpx.Client, random.Random], None]:
    def attack(load: Load, http: httpx.Client, rng: random.Random) -> None:
        load.note(
            "garbage", http.post(path, content=body, headers={"content-type": "application/json"})
        )

    return attack


def _get(path: str, **params: str) -> Callable[[Load, httpx.Client, random.Random], None]:
    def attack(load: Load, http: httpx.Client, rng: random.Random) -> None:
        load.note("garbage", http.get(path, params=params))

    return attack


def _raw(payload: bytes) -> Callable[[Load, httpx.Client, random.Random], None]:
    def attack(load: Load, http: httpx.Client, rng: random.Random) -> None:
        load.raw(payload)

    return attack


def _random_bytes(load: Load, http: httpx.Client, rng: random.Random) -> None:
    load.raw(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))))


def _no_key(load: Load, http: httpx.Client, rng: random.Random) -> None:
    load.note("garbage", httpx.get(f"{load.server.url}/v1/files", timeout=120, verify=UNUSED_TLS))


def _bad_multipart(load: Load, http: httpx.Client, rng: random.Random) -> None:
    body = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc'
    headers = {"content-type": "multipart/form-data; boundary=x"}
    load.note("garbage", http.post("/v1/files", content=body, headers=headers))


GARBAGE: list[Callable[[Load, httpx.Client, random.Random], None]] = [
    _json("/v1/fine_tuning/jobs", b"{"),
    _json(
        "/v1/fine_tuning/jobs", b'{"model": "gpt-4o-mini", "training_file": ' + b"9" * 500 + b"}"
    ),
    _json("/v1/fine_tuning/jobs", b"[" * 100_000),
    _json("/v1/uploads", b'{"filename": "' + b"a" * 100_000 + b'", "purpose": "batch"}'),
    _json("/v1/chat/completions", b'{"model": "nope", "messages": "no"}'),
    _json("/v1/uploads/upload_nope/complete", b'{"part_ids": ["x"]}'),
    _json("/mockft/clock/advance", b'{"seconds": 1e308}'),
    _json("/v1/files", b"{}"),
    _get("/v1/files/"),
    _get("/v1/nowhere"),
    _get("/v1/fine_tuning/jobs", **{f"metadata[k{i}]": "v" for i in range(1000)}),
    _get("/v1/files", limit="-5"),
    _get("/v1/files/file-nope/content"),
    _raw(
        b"POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"
    ),
    _raw(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"),
    _random_bytes,
    _no_key,
    _bad_multipart,
]
ATTACKS = tuple(f"garbage {index}" for index in range(len(GARBAGE)))


# -- a run -----------------------------------------------------------------------------------


def run_soak(config: SoakConfig, data_dir: Path, stalls: Path | None = None) -> SoakResult:
    server = Server(data_dir, stalls, config.preload)
    server.start()
    load = Load(server, config)
    try:
        long_job = load.long_job()
        workers = [
            threading.Thread(target=load.guarded("mixed", lambda i=i: load.mixed(i)))
            for i in range(config.clients)
        ]
        workers += [
            threading.Thread(target=load.guarded("uploader", load.big_upload)),
            threading.Thread(target=load.guarded("job", load.big_job)),
            threading.Thread(target=load.guarded("poller", lambda: load.poller(long_job))),
            threading.Thread(target=load.guarded("garbage", load.garbage)),
        ]
        deadline = time.monotonic() + config.seconds
        probe = (
            start_probe(server.port, config.seconds, config.probe_interval)
            if config.probe
            else None
        )
        for worker in workers:
            worker.start()
        heavy = workers[config.clients : config.clients + 2]
        give_up = deadline + 60
        while (
            time.monotonic() < deadline
            or any(w.is_alive() for w in heavy)
            or (not load.covered() and time.monotonic() < give_up)
        ):
            load.result.rss_mb.append(server.rss_mb())
            time.sleep(0.1)
        load.stop.set()
        if probe is not None:
            out, _ = probe.communicate(timeout=120)
            load.result.probe_ms = json.loads(out) if out.strip() else []
        for worker in workers:
            worker.join(timeout=120)
        load.result.rss_mb.append(server.rss_mb())
        if stalls is not None:  # what the load did; the checks below are not timed
            load.result.stalls_log = str(stalls)
            lines = stalls.read_text().splitlines() if stalls.exists() else []
            load.result.stalls = [json.loads(line) for line in lines]
        with load.client() as http:
            check_acknowledged(http, load.result, "after the load")
        server.kill9()
    finally:
        server.close()
    # What a restarted server finds is what the same app finds opening the data dir: it is
    # opened in this process (no second interpreter start, and no vocabulary: it reads files).
    reopened = MockFT(settings=Settings(data_dir=data_dir, preload_vocabularies=False))
    try:
        with reopened.http_client(family="httpx", headers=KEY) as http:
            check_acknowledged(http, load.result, "after kill -9")
    finally:
        reopened.close()
    return load.result


def check_acknowledged(http: httpx.Client, result: SoakResult, when: str) -> None:
    """Every acknowledged file is listed and reads back byte for byte; every job is there."""
    listed = {f["id"] for f in http.get("/v1/files", params={"limit": 10_000}).json()["data"]}
    for file_id, sha in sorted(result.acknowledged.items()):
        if file_id not in listed:
            result.lost.append(f"{file_id}: not listed {when}")
            continue
        digest = hashlib.sha256()
        with http.stream("GET", f"/v1/files/{file_id}/content") as content:
            for chunk in content.iter_bytes():
                digest.update(chunk)
        if digest.hexdigest() != sha:
            result.lost.append(f"{file_id}: bytes differ {when}")
    for job_id in result.jobs:
        if http.get(f"/v1/fine_tuning/jobs/{job_id}").status_code != 200:
            result.lost.append(f"{job_id}: job missing {when}")


def bench_soak(quick: bool) -> list[Any]:
    """The figure for `python -m benchmarks --only soak`."""
    figure, _ = soak_figure(quick)
    return [figure]


def soak_figure(quick: bool, watch: bool = False) -> tuple[Any, SoakResult]:
    """p99 of GET /v1/models under the soak mix, and the run it came from."""
    from benchmarks.__main__ import Figure

    config = SoakConfig.quick() if quick else SoakConfig()
    stalls = None
    if watch:
        handle, name = tempfile.mkstemp(prefix="mockft-stalls-", suffix=".jsonl")
        os.close(handle)
        stalls = Path(name)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_soak(config, Path(tmp) / "data", stalls)
    p99 = result.p99_ms
    note = (
        f"{config.clients} clients + {config.upload_mb} MB upload + job on {config.job_file_mb} MB "
        f"+ long-job poller + garbage, {config.seconds:g} s; "
        f"probe: {len(result.probe_ms):,} calls, "
        f"max {max(result.probe_ms, default=float('nan')):,.0f} ms; peak RSS "
        f"{max(result.rss_mb, default=float('nan')):,.0f} MB; 5xx {len(result.server_errors)}, "
        f"lost {len(result.lost)}"
    )
    figure = Figure(
        "GET /v1/models p99 under the soak mix",
        p99,
        "ms",
        f"< {P99_TARGET_MS:g}",
        p99 < P99_TARGET_MS,
        note,
    )
    return figure, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the CI-sized run")
    parser.add_argument(
        "--watch", action="store_true", help="log what holds the server's event loop"
    )
    parser.add_argument("--probe", nargs=2, metavar=("PORT", "SECONDS"), help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=float, default=0.02, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        import asyncio

        port, seconds = int(args.probe[0]), float(args.probe[1])
        print(json.dumps(asyncio.run(_probe(port, seconds, args.interval))))
        return
    figure, result = soak_figure(args.quick, args.watch)
    print(figure.row())
    print(json.dumps(result.summary(), indent=2))


if __name__ == "__main__":
    main()
