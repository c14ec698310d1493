"""Virtual time never decreases for a data dir, whatever happens between two servers on it
(a lower --speed, a speed changed at run time, a reset, a switch of clock mode, kill -9,
a wall clock stepped back), and no clock input, however large, can stop a server or make
it fail: it is refused with a 400 naming the field."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from mockft import errors
from mockft.clock import MAX_INSTANT, ClockRecord, ManualClock, SystemClock
from mockft.config import Settings
from mockft.pytest_plugin import MockFT
from mockft.service.clockctl import META_CLOCK, ClockControl
from mockft.store import SqliteStore
from tests.conftest import FIXTURES, START
from tests.serving import Served, ServedInProcess, served_in_process

FAST = "10000"  # virtual seconds per real second
TRAIN = (FIXTURES / "train_chat.jsonl").read_bytes()


def run_a_job_to_success(server: Served | ServedInProcess) -> str:
    with server.client() as client:
        file = client.post(
            "/v1/files", files={"file": ("t.jsonl", TRAIN)}, data={"purpose": "fine-tune"}
        ).json()
        job = client.post(
            "/v1/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file["id"]}
        ).json()
        deadline = time.monotonic() + 30
        while client.get(f"/v1/fine_tuning/jobs/{job['id']}").json()["status"] != "succeeded":
            assert time.monotonic() < deadline, "the job never succeeded"
            time.sleep(0.05)
    return str(job["id"])


def status(server: Served | ServedInProcess, job_id: str) -> str:
    with server.client() as client:
        return str(client.get(f"/v1/fine_tuning/jobs/{job_id}").json()["status"])


# --- across restarts ---------------------------------------------------------------------


def test_a_lower_speed_on_restart_does_not_rewind_time_or_a_finished_job(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with served_in_process(data, "--speed", FAST) as fast:
        job_id = run_a_job_to_success(fast)
        seen = fast.now()
    with served_in_process(data, "--speed", "1") as slow:
        assert slow.now() >= seen
        assert status(slow, job_id) == "succeeded"


def test_a_speed_set_at_run_time_survives_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Served(data, "--speed", "1").start()
    try:
        with server.client() as client:
            assert client.post("/mockft/clock", json={"speed": 10000}).status_code == 200
        time.sleep(0.5)
        seen = server.now()
        server.kill9()
        server.start()
        assert server.now() >= seen
    finally:
        server.stop()


def test_reset_keeps_the_clock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with served_in_process(data, "--speed", FAST) as server:
        time.sleep(0.3)
        with server.client() as client:
            assert client.post("/mockft/reset").status_code == 200
            seen = server.now()
    with served_in_process(data, "--speed", FAST) as again:
        assert again.now() >= seen


def test_switching_system_to_manual_and_back_continues_from_the_last_instant(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with served_in_process(data, "--speed", FAST) as system:
        job_id = run_a_job_to_success(system)
        seen = system.now()
    with served_in_process(data, "--clock", "manual", "--start-time", str(START)) as manual:
        assert manual.now() >= seen  # neither the wall clock nor --start-time rewinds it
        assert status(manual, job_id) == "succeeded"
        with manual.client() as client:
            ahead = client.post("/mockft/clock/advance", json={"seconds": 10 * 365 * 86400})
            seen = ahead.json()["now"]
    with served_in_process(data, "--clock", "system", "--speed", "1") as back:
        assert back.now() >= seen
        assert status(back, job_id) == "succeeded"


def test_kill_9_never_rewinds_a_system_clock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Served(data, "--speed", FAST).start()
    try:
        for _ in range(3):
            time.sleep(0.2)
            seen = server.now()
            server.kill9()
            server.start()
            assert server.now() >= seen
    finally:
        server.stop()


def test_a_wall_clock_stepped_back_does_not_rewind_a_stored_clock(tmp_path: Path) -> None:
    """The record says the clock read V at wall time W; the wall clock now reads earlier
    than W (set back between two runs): the clock resumes at V, not before."""
    store = SqliteStore(tmp_path / "db.sqlite3")
    future_wall = time.time() + 86_400
    store.set_meta(META_CLOCK, ClockRecord("system", 2_000_000_000.0, future_wall, 60).dumps())
    control = ClockControl.restore(Settings(clock="system", speed=1), store)
    assert control.now() >= 2_000_000_000
    store.close()


def test_a_running_system_clock_ignores_the_wall_clock_stepping_back() -> None:
    wall, mono = [1_000.0], [50.0]
    clock = SystemClock(10, anchor=5_000, wall=lambda: wall[0], monotonic=lambda: mono[0])
    mono[0] += 2
    ahead = clock.now()
    wall[0] -= 3_600  # NTP steps the wall clock back an hour
    assert clock.now() == ahead == 5_020


def test_a_stored_record_is_read_back_within_bounds() -> None:
    assert ClockRecord.loads("not json") is None
    assert ClockRecord.loads(json.dumps({"mode": "sundial"})) is None
    poisoned = json.dumps({"mode": "manual", "virtual": 1e308, "wall": 0, "speed": 0})
    record = ClockRecord.loads(poisoned)
    assert record is not None and record.virtual == MAX_INSTANT
    fast = ClockRecord.loads(
        json.dumps({"mode": "system", "virtual": 0, "wall": 0, "speed": 1e308})
    )
    assert fast is not None and fast.at(time.time()) <= MAX_INSTANT


# --- bounded inputs ----------------------------------------------------------------------


def raw_post(client: httpx.Client, path: str, body: str) -> httpx.Response:
    return client.post(path, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/mockft/clock/advance", '{"seconds": 1e308}', "seconds"),
        ("/mockft/clock/advance", '{"seconds": ' + "1" + "0" * 400 + "}", "seconds"),
        ("/mockft/clock/advance", '{"seconds": -1}', "seconds"),
        ("/mockft/clock/advance", '{"seconds": true}', "seconds"),
        ("/mockft/clock/advance", '{"seconds": "5"}', "seconds"),
        ("/mockft/clock", '{"now": 1e308}', "now"),
        ("/mockft/clock", '{"now": ' + "9" * 400 + "}", "now"),
        ("/mockft/clock", '{"now": 1}', "now"),
    ],
)
def test_out_of_range_clock_moves_are_400s_and_leave_the_server_whole(
    tmp_path: Path, path: str, body: str, param: str
) -> None:
    data = tmp_path / "data"
    with served_in_process(data, "--clock", "manual", "--start-time", str(START)) as server:
        with server.client() as client:
            refused = raw_post(client, path, body)
            assert refused.status_code == 400, refused.text
            error = refused.json()["error"]
            assert error["param"] == param
            assert len(error["message"]) < 300  # 400 digits are not echoed back
            assert client.get("/v1/models").status_code == 200
            assert server.now() == START
            ok = client.post("/mockft/clock/advance", json={"seconds": 60})
            assert ok.status_code == 200
    with served_in_process(data, "--clock", "manual") as again:  # and the data dir still starts
        assert again.now() == START + 60


@pytest.mark.parametrize("speed", ["1e308", "0", "-5", "1" + "0" * 400, '"fast"'])
def test_out_of_range_speeds_are_400s(tmp_path: Path, speed: str) -> None:
    with served_in_process(tmp_path / "data", "--speed", "60") as server, server.client() as client:
        refused = raw_post(client, "/mockft/clock", '{"speed": ' + speed + "}")
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["param"] == "speed"
        assert client.get("/mockft/clock").json()["speed"] == 60


def test_the_largest_move_stops_at_the_last_instant(tmp_path: Path) -> None:
    with served_in_process(
        tmp_path / "data", "--clock", "manual", "--start-time", str(START)
    ) as server:
        with server.client() as client:
            to_end = client.post("/mockft/clock", json={"now": MAX_INSTANT})
            assert to_end.status_code == 200
            beyond = client.post("/mockft/clock/advance", json={"seconds": 1})
            assert beyond.status_code == 400 and beyond.json()["error"]["param"] == "seconds"
            made = client.post(
                "/v1/files", files={"file": ("a.jsonl", b'{"a": 1}\n')}, data={"purpose": "batch"}
            )
            assert made.status_code == 200 and made.json()["created_at"] == MAX_INSTANT


@pytest.mark.parametrize(
    "poison",
    [
        {"clock": "not a record"},
        {"clock": json.dumps({"mode": "manual", "virtual": 1e308, "wall": 0, "speed": 0})},
        {"clock": json.dumps({"mode": "system", "virtual": 1e300, "wall": 0, "speed": 1e300})},
        {"clock.manual.now": "1e308"},
        {"clock.system.anchor": "[1e308, 0]"},
    ],
)
def test_no_stored_clock_value_stops_the_server_from_starting(
    tmp_path: Path, poison: dict[str, str]
) -> None:
    data = tmp_path / "data"
    with served_in_process(data, "--clock", "manual", "--start-time", str(START)):
        pass
    db = sqlite3.connect(data / "mockft.sqlite3")
    with db:
        for key, value in poison.items():
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
    db.close()
    with served_in_process(data, "--clock", "manual") as server, server.client() as client:
        assert START <= server.now() <= MAX_INSTANT
        made = client.post(
            "/v1/files", files={"file": ("a.jsonl", b'{"a": 1}\n')}, data={"purpose": "batch"}
        )
        assert made.status_code == 200, made.text
        assert client.get("/v1/files").status_code == 200


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), -1.0, 10**400])
def test_the_pytest_handle_refuses_what_the_api_refuses(mockft: MockFT, seconds: float) -> None:
    with pytest.raises(errors.APIError) as refused:
        mockft.advance(seconds)
    assert (refused.value.status, refused.value.param) == (400, "seconds")
    assert mockft.now() == mockft.options.start_time


def test_a_manual_clock_refuses_to_go_back() -> None:
    clock = ManualClock(100)
    with pytest.raises(ValueError):
        clock.set(99)
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.now() == 100


def test_a_move_that_cannot_be_stored_is_taken_back(
    mockft: MockFT, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(key: str, value: str) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(mockft.service.store, "set_meta", full)
    with pytest.raises(sqlite3.OperationalError):
        mockft.advance(3600)
    assert mockft.now() == mockft.options.start_time  # not served from an unstored instant
