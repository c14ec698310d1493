"""The front (mockft.front): kept answers to polls are the answers the routes would give,
until the store changes or the clock reaches the instant something read changes; chaos,
the request log and the headers still apply to every request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from mockft.paging import PageRequest
from mockft.pytest_plugin import MockFT
from mockft.wire import jobs as wire
from tests.conftest import live_server, make_settings

TRAINING = (Path(__file__).resolve().parent.parent / "fixtures" / "train_chat.jsonl").read_bytes()


def start_job(mockft: MockFT) -> tuple[str, str]:
    client = mockft.openai()
    training = client.files.create(file=("train.jsonl", TRAINING), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
    return job.id, training.id


def kept(mockft: MockFT) -> int:
    answers: Any = mockft.app.middleware_stack.answers  # type: ignore[attr-defined]
    return len(answers._kept)


def polls(mockft: MockFT, path: str, times: int = 3) -> list[Any]:
    with mockft.http_client() as http:
        answers = [http.get(path) for _ in range(times)]
    assert all(a.status_code == 200 for a in answers)
    return answers


def test_a_kept_poll_is_byte_for_byte_the_routes_answer(mockft: MockFT) -> None:
    job_id, file_id = start_job(mockft)
    mockft.advance(86_400)
    for path in (
        f"/v1/fine_tuning/jobs/{job_id}",
        f"/v1/fine_tuning/jobs/{job_id}/events?limit=5",
        f"/v1/fine_tuning/jobs/{job_id}/checkpoints",
        "/v1/fine_tuning/jobs",
        f"/v1/files/{file_id}",
    ):
        answers = polls(mockft, path)
        assert len({a.content for a in answers}) == 1
        assert len({a.headers["x-request-id"] for a in answers}) == 3  # fresh per request
        for answer in answers:
            assert answer.headers["content-type"] == "application/json"
            assert answer.headers["openai-version"] == "2020-10-01"
            assert answer.headers["openai-organization"] == mockft.service.keys.default.name
            assert int(answer.headers["content-length"]) == len(answer.content)
    assert kept(mockft) == 5


def test_a_kept_job_changes_at_its_next_planned_instant(mockft: MockFT) -> None:
    job_id, _ = start_job(mockft)
    path = f"/v1/fine_tuning/jobs/{job_id}"
    org = mockft.service.keys.default
    seen = [polls(mockft, path, 2)[-1].json()["status"]]
    for _ in range(300):  # a poll every 10 virtual seconds until the job ends
        mockft.advance(10)
        answer = polls(mockft, path, 2)[-1].json()
        # the route's answer, computed afresh by the service
        assert answer == orjson.loads(orjson.dumps(wire.job(mockft.service.jobs.get(org, job_id))))
        events = polls(mockft, f"{path}/events?limit=3", 2)[-1].json()["data"]
        fresh = mockft.service.jobs.events(org, job_id, PageRequest(limit=3))
        assert [e["id"] for e in events] == [e.id for e in fresh[:3]]
        if answer["status"] != seen[-1]:
            seen.append(answer["status"])
        if answer["status"] == "succeeded":
            break
    assert seen[0] == "validating_files" and seen[-1] == "succeeded"
    assert "running" in seen


def test_a_write_is_seen_at_once(mockft: MockFT) -> None:
    job_id, _ = start_job(mockft)
    mockft.advance(120)
    path = f"/v1/fine_tuning/jobs/{job_id}"
    assert polls(mockft, path)[-1].json()["status"] == "running"
    mockft.openai().fine_tuning.jobs.cancel(job_id)
    assert polls(mockft, path, 1)[0].json()["status"] == "cancelled"


def test_chaos_and_the_request_log_meet_kept_answers_too(mockft: MockFT) -> None:
    job_id, _ = start_job(mockft)
    mockft.advance(86_400)
    path = f"/v1/fine_tuning/jobs/{job_id}"
    polls(mockft, path, 2)
    mockft.chaos(status=503, times=1, path=path)
    with mockft.http_client() as http:
        assert http.get(path).status_code == 503
        answer = http.get(path)
    assert answer.status_code == 200
    logged = [r for r in mockft.requests if r.path == path]
    assert [r.status for r in logged] == [200, 200, 503, 200]
    assert logged[-1].request_id == answer.headers["x-request-id"]


def test_each_key_has_its_own_kept_answers(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_keys=("sk-a=alpha", "sk-b=beta"))
    with live_server(settings) as live:
        a, b = ({"Authorization": f"Bearer {key}"} for key in ("sk-a", "sk-b"))
        with httpx.Client(base_url=live.base_url) as http:
            file_id = http.post(
                "/files",
                files={"file": ("t.jsonl", TRAINING)},
                data={"purpose": "fine-tune"},
                headers=a,
            ).json()["id"]
            mine = [http.get(f"/files/{file_id}", headers=a) for _ in range(2)]
            theirs = http.get(f"/files/{file_id}", headers=b)
    assert [m.status_code for m in mine] == [200, 200]
    assert mine[0].headers["openai-organization"] == "alpha"
    assert theirs.status_code == 404
    assert theirs.headers["openai-organization"] == "beta"


@pytest.fixture
def expiring(mockft: MockFT) -> str:
    client = mockft.openai()
    file = client.files.create(
        file=("t.jsonl", TRAINING),
        purpose="fine-tune",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    return file.id


def test_a_kept_file_goes_when_it_expires(mockft: MockFT, expiring: str) -> None:
    polls(mockft, f"/v1/files/{expiring}")
    mockft.advance(3600)
    with mockft.http_client() as http:
        assert http.get(f"/v1/files/{expiring}").status_code == 404
