"""Webhooks: `fine_tuning.job.succeeded`, `.failed` and `.cancelled`, signed as OpenAI signs
them so that the unchanged SDK's `webhooks.unwrap` accepts them (and refuses a tampered one),
delivered when the transition becomes true on the clock, retried on the real schedule, each
attempt listed; kept in the store across restarts; configured by flag, environment or the
control API; found through timers rather than a scan of every job."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from mockft import webhook_signing
from mockft.pytest_plugin import MockFT
from mockft.service.webhooks import MAX_ATTEMPTS, RETRY_DELAYS
from tests.conftest import FIXTURES, LiveServer, live_server, make_settings
from tests.openapi_contract import schema_violations
from tests.serving import Served
from tests.test_node_sdk import NODE, run_workflow

TRAIN = (FIXTURES / "train_chat.jsonl").read_bytes()
BAD = (FIXTURES / "bad" / "missing_messages.jsonl").read_bytes()
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = "sk-hooks-0123456789"
SCHEMAS = {
    "fine_tuning.job.succeeded": "WebhookFineTuningJobSucceeded",
    "fine_tuning.job.failed": "WebhookFineTuningJobFailed",
    "fine_tuning.job.cancelled": "WebhookFineTuningJobCancelled",
}


@pytest.fixture
def mockft_app() -> Iterator[MockFT]:
    handle = MockFT()
    try:
        yield handle
    finally:
        handle.close()


def start_job(client: openai.OpenAI, data: bytes = TRAIN) -> str:
    file = client.files.create(file=("train.jsonl", data), purpose="fine-tune")
    return client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file.id).id


def unwrap(client: openai.OpenAI, body: bytes, headers: dict[str, str], secret: str) -> Any:
    return client.webhooks.unwrap(body, headers, secret=secret)


# --- the pytest plugin's in-process receiver ---------------------------------------------------


def test_a_success_is_delivered_signed_and_the_sdk_unwraps_it(mockft_app: MockFT) -> None:
    hook = mockft_app.webhooks
    client = mockft_app.openai()
    job_id = start_job(client)
    done = mockft_app.run_until_done(job_id)
    (received,) = hook.received
    event = unwrap(client, received.body, received.headers, hook.secret)
    assert (event.type, event.data.id, event.object) == (
        "fine_tuning.job.succeeded",
        job_id,
        "event",
    )
    assert event.created_at == done.finished_at
    assert event.id.startswith("evt_") and received.webhook_id.startswith("wh_")
    assert schema_violations(SCHEMAS[event.type], received.event) == []
    assert list(received.event) == ["id", "object", "created_at", "type", "data"]
    assert received.headers["webhook-signature"].startswith("v1,")
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 60  # wall clock

    tampered = received.body.replace(b"succeeded", b"cancelled")
    with pytest.raises(openai.InvalidWebhookSignatureError):
        unwrap(client, tampered, received.headers, hook.secret)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        other = webhook_signing.new_secret(b"another secret")
        unwrap(client, received.body, received.headers, other)


def test_failed_and_cancelled_jobs_are_delivered_too(mockft_app: MockFT) -> None:
    hook = mockft_app.webhooks
    client = mockft_app.openai()
    invalid = start_job(client, BAD)
    assert mockft_app.run_until_done(invalid).status == "failed"
    failing = start_job(client)
    mockft_app.fail_job(failing, "server_error")
    cancelled = start_job(client)
    client.fine_tuning.jobs.cancel(cancelled)
    got = {r.job_id: r for r in hook.received}
    assert {job_id: r.type for job_id, r in got.items()} == {
        invalid: "fine_tuning.job.failed",
        failing: "fine_tuning.job.failed",
        cancelled: "fine_tuning.job.cancelled",
    }
    for received in got.values():
        event = unwrap(client, received.body, received.headers, hook.secret)
        assert schema_violations(SCHEMAS[event.type], received.event) == []
    assert got[cancelled].event["created_at"] == int(mockft_app.now())  # when it was cancelled


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_node_sdk_unwraps_them_too(mockft_app: MockFT) -> None:
    """The official Node SDK (tests/node, pinned) verifies the same deliveries: each accepted,
    each refused with a changed byte."""
    hook = mockft_app.webhooks
    client = mockft_app.openai()
    succeeded = start_job(client)
    mockft_app.run_until_done(succeeded)
    cancelled = start_job(client)
    client.fine_tuning.jobs.cancel(cancelled)
    deliveries = [{"body": r.body.decode(), "headers": r.headers} for r in hook.received]
    summary = run_workflow(
        "webhook_unwrap.mjs",
        MOCKFT_WEBHOOKS=json.dumps(deliveries),
        MOCKFT_WEBHOOK_SECRET=hook.secret,
    )
    assert [(e["type"], e["job"]) for e in summary["events"]] == [
        ("fine_tuning.job.succeeded", succeeded),
        ("fine_tuning.job.cancelled", cancelled),
    ]


def test_delivery_happens_on_the_advance_that_crosses_the_transition(mockft_app: MockFT) -> None:
    hook = mockft_app.webhooks
    client = mockft_app.openai()
    job_id = start_job(client)
    mockft_app.advance(120)  # validation is over: the plan is known
    end = mockft_app.control.expected_end(mockft_app._caller, job_id)
    assert end is not None
    mockft_app.advance(end - 1 - mockft_app.now())
    assert hook.received == [] and client.fine_tuning.jobs.retrieve(job_id).status != "succeeded"
    mockft_app.advance(1)
    assert [r.type for r in hook.received] == ["fine_tuning.job.succeeded"]
    assert hook.received[0].event["created_at"] == end


def test_a_receiver_that_fails_twice_sees_three_attempts(mockft_app: MockFT) -> None:
    hook = mockft_app.webhooks
    hook.fail_next(2, status=503)
    client = mockft_app.openai()
    job_id = start_job(client)
    mockft_app.run_until_done(job_id)
    assert hook.received == []
    ((delivery,),) = [hook.deliveries]
    assert [a["response_code"] for a in delivery["attempts"]] == [503]
    mockft_app.advance(RETRY_DELAYS[0] - 1)
    assert len(hook.deliveries[0]["attempts"]) == 1  # not due yet
    mockft_app.advance(1)
    mockft_app.advance(RETRY_DELAYS[1])
    (delivery,) = hook.deliveries
    assert [(a["attempt"], a["status"], a["response_code"]) for a in delivery["attempts"]] == [
        (1, "failed", 503),
        (2, "failed", 503),
        (3, "delivered", 200),
    ]
    assert delivery["status"] == "delivered" and delivery["next_attempt_at"] is None
    (received,) = hook.received
    assert received.webhook_id == delivery["webhook_id"]  # the same id on every attempt
    assert hook.receiver.attempts == 3


def test_the_schedule_gives_up_after_72_hours(mockft_app: MockFT) -> None:
    hook = mockft_app.webhooks
    hook.fail_next(MAX_ATTEMPTS, status=500)
    mockft_app.run_until_done(start_job(mockft_app.openai()))
    for delay in RETRY_DELAYS:
        mockft_app.advance(delay)
    (delivery,) = hook.deliveries
    assert len(delivery["attempts"]) == MAX_ATTEMPTS == 12
    assert delivery["status"] == "failed" and delivery["next_attempt_at"] is None
    first, last = delivery["attempts"][0]["at"], delivery["attempts"][-1]["at"]
    assert last - first == sum(RETRY_DELAYS) <= 72 * 3600
    mockft_app.advance(10 * 86_400)
    assert len(hook.deliveries[0]["attempts"]) == MAX_ATTEMPTS


def test_jobs_that_ended_before_the_endpoint_existed_are_not_announced(
    mockft_app: MockFT,
) -> None:
    client = mockft_app.openai()
    mockft_app.run_until_done(start_job(client))
    hook = mockft_app.webhooks
    later = start_job(client)
    mockft_app.run_until_done(later)
    assert [r.job_id for r in hook.received] == [later]


def test_finding_due_jobs_reads_timers_not_every_job(mockft_app: MockFT) -> None:
    service = mockft_app.service
    mockft_app.webhooks.receiver  # noqa: B018 - the receiver listens from here
    client = mockft_app.openai()
    jobs = [start_job(client) for _ in range(6)]
    mockft_app.advance(120)  # every plan known (each observed once)
    for job_id in jobs[1:]:
        mockft_app.hold_job(job_id)  # held: they do not end by themselves
    now = int(service.clock.now())
    assert service.webhooks.collect(now) == 0  # nothing due: nothing looked at
    end = mockft_app.control.expected_end(mockft_app._caller, jobs[0])
    assert end is not None
    service.clock.advance(end - now)
    assert service.webhooks.collect(end) == 1  # the one job that ended, and only it
    assert service.webhooks.collect(end) == 0


def test_the_job_page_of_the_dashboard_lists_its_webhooks(mockft_app: MockFT) -> None:
    hook = mockft_app.webhooks
    hook.fail_next(1, status=502)
    job_id = start_job(mockft_app.openai())
    mockft_app.run_until_done(job_id)
    page = mockft_app.http_client().get(f"/dashboard/jobs/{job_id}").text
    assert 'id="webhooks-h"' in page
    assert 'data-status="pending"' in page and 'data-attempts="1"' in page
    assert "fine_tuning.job.succeeded" in page and "502" in page


def test_the_plugin_reset_forgets_the_receiver(mockft_app: MockFT) -> None:
    hook = mockft_app.webhooks
    mockft_app.run_until_done(start_job(mockft_app.openai()))
    assert len(hook.received) == 1
    mockft_app.reset()
    assert mockft_app.service.webhooks.endpoints() == []
    mockft_app.run_until_done(start_job(mockft_app.openai()))
    assert len(mockft_app.webhooks.received) == 1  # listening again, a new receiver


# --- over HTTP: a receiver on a socket, the control API ------------------------------------------


@dataclass
class Receiver:
    """A local HTTP endpoint: answers `statuses` in turn (then 200), keeps what it got."""

    statuses: list[int] = field(default_factory=list)
    got: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    attempts: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/openai"


def serve_receiver(receiver: Receiver, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers["content-length"]))
            receiver.attempts += 1
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            if status == 200:
                receiver.got.append((body, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    receiver.port = int(server.server_address[1])
    # shutdown() waits for serve_forever to look at its flag: every 0.5 s by default.
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    server = serve_receiver(found)
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def root(server: LiveServer) -> str:
    """The server's address without `/v1`: where the control API is."""
    return server.base_url.removesuffix("/v1")


def free_port() -> int:
    """A port nobody listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def control(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=root(server), headers={"Authorization": f"Bearer {KEY}"})


def sdk(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)


def test_a_flag_endpoint_hears_within_the_advance_and_retries(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses = [500, 500]
    settings = make_settings(tmp_path, webhooks=(receiver.url,), webhook_secret=SECRET)
    with live_server(settings) as server, control(server) as ctl, sdk(server) as client:
        job_id = start_job(client)
        moved = ctl.post("/mockft/clock/advance", json={"seconds": 86_400})
        assert moved.status_code == 200
        assert receiver.attempts == 1  # made before the advance answered
        for seconds in RETRY_DELAYS[:2]:
            ctl.post("/mockft/clock/advance", json={"seconds": seconds})
        listed = ctl.get("/mockft/webhooks/deliveries", params={"job_id": job_id}).json()
        (delivery,) = listed["data"]
        assert [a["response_code"] for a in delivery["attempts"]] == [500, 500, 200]
        assert delivery["status"] == "delivered" and receiver.attempts == 3
        (body, headers) = receiver.got[0]
        event = unwrap(client, body, headers, SECRET)
        assert (event.type, event.data.id) == ("fine_tuning.job.succeeded", job_id)
        assert headers["webhook-id"] == delivery["webhook_id"]
        assert headers["content-type"] == "application/json"
        endpoints = ctl.get("/mockft/webhooks").json()
        assert [e["url"] for e in endpoints["data"]] == [receiver.url]
        assert endpoints["data"][0]["configured"] is True and endpoints["secret"] == SECRET


def test_a_cancel_is_delivered_without_moving_the_clock(tmp_path: Path, receiver: Receiver) -> None:
    settings = make_settings(tmp_path, webhooks=(receiver.url,), webhook_secret=SECRET)
    with live_server(settings) as server, sdk(server) as client:
        job_id = start_job(client)
        client.fine_tuning.jobs.cancel(job_id)
        assert wait_for(lambda: len(receiver.got) == 1)  # the background task sent it
        assert json.loads(receiver.got[0][0])["type"] == "fine_tuning.job.cancelled"


def test_a_system_clock_delivers_at_the_instant(tmp_path: Path, receiver: Receiver) -> None:
    settings = make_settings(
        tmp_path, clock="system", speed=2_000, webhooks=(receiver.url,), webhook_secret=SECRET
    )
    with live_server(settings) as server, sdk(server) as client:
        job_id = start_job(client)
        assert wait_for(lambda: len(receiver.got) == 1)
        assert json.loads(receiver.got[0][0])["data"]["id"] == job_id
        assert client.fine_tuning.jobs.retrieve(job_id).status == "succeeded"


def test_a_restart_neither_loses_nor_repeats_an_event(tmp_path: Path) -> None:
    down = Receiver()
    port = free_port()  # nobody listens yet: the first attempt is refused
    down.port = port
    settings = make_settings(tmp_path, webhooks=(down.url,), webhook_secret=SECRET)
    with live_server(settings) as server, control(server) as ctl, sdk(server) as client:
        first = start_job(client)
        second = start_job(client)
        client.fine_tuning.jobs.cancel(second)

        def attempts() -> dict[str, int]:
            deliveries = ctl.get("/mockft/webhooks/deliveries").json()["data"]
            return {d["job_id"]: len(d["attempts"]) for d in deliveries}

        assert wait_for(lambda: attempts() == {second: 1})  # refused at once
        ctl.post("/mockft/clock/advance", json={"seconds": 86_400})  # its retry, the success
        assert attempts() == {second: 2, first: 1}
        deliveries = ctl.get("/mockft/webhooks/deliveries").json()["data"]
        assert all(d["attempts"][0]["response_code"] is None for d in deliveries)
        assert all(d["attempts"][0]["error"] for d in deliveries)
        third = start_job(client)  # ends while the server is down
        webhook_ids = {d["job_id"]: d["webhook_id"] for d in deliveries}
    up = serve_receiver(down, port)
    try:
        with live_server(settings) as server, control(server) as ctl:
            ctl.post("/mockft/clock/advance", json={"seconds": 86_400})
            assert sorted(json.loads(body)["data"]["id"] for body, _ in down.got) == sorted(
                [first, second, third]
            )
            assert {
                json.loads(body)["data"]["id"]: headers["webhook-id"]
                for body, headers in down.got
                if json.loads(body)["data"]["id"] != third
            } == webhook_ids
        with live_server(settings) as server, control(server) as ctl:
            ctl.post("/mockft/clock/advance", json={"seconds": 86_400})
            assert len(down.got) == 3  # delivered before the restart: not again
    finally:
        up.shutdown()
        up.server_close()


@pytest.mark.parametrize("frees_the_slot", ["cancel", "pause then resume"])
def test_a_job_that_waited_for_a_slot_is_announced_on_the_advance_it_ends(
    tmp_path: Path, receiver: Receiver, frees_the_slot: str
) -> None:
    """With one job running at a time, the second's end moves with the first's (a cancel
    frees the slot sooner, a pause holds it until the resume): its event is still sent on
    the advance that crosses its end, however the wait changed, without reading the job."""
    settings = make_settings(
        tmp_path, webhooks=(receiver.url,), webhook_secret=SECRET, max_running_jobs=1
    )
    with live_server(settings) as server, control(server) as ctl, sdk(server) as client:
        first, second = start_job(client), start_job(client)
        while client.fine_tuning.jobs.retrieve(first).status != "running":
            ctl.post("/mockft/clock/advance", json={"seconds": 30})
        assert client.fine_tuning.jobs.retrieve(second).status == "queued"
        if frees_the_slot == "cancel":
            client.fine_tuning.jobs.cancel(first)
        else:
            client.fine_tuning.jobs.pause(first)
            ctl.post("/mockft/clock/advance", json={"seconds": 7_200})
            assert client.fine_tuning.jobs.retrieve(second).status == "queued"
            client.fine_tuning.jobs.resume(first)
        announced: dict[str, dict[str, Any]] = {}
        for _ in range(2_000):
            ctl.post("/mockft/clock/advance", json={"seconds": 60})
            heard = {
                event["data"]["id"]: event
                for event in map(json.loads, (b for b, _ in receiver.got))
            }
            job = client.fine_tuning.jobs.retrieve(second)  # after what was heard
            if job.status == "succeeded":
                announced = heard
                break
        event = announced[second]
        assert (event["type"], event["created_at"]) == (
            "fine_tuning.job.succeeded",
            job.finished_at,
        )


def test_the_control_api_adds_lists_and_removes_endpoints(
    tmp_path: Path, receiver: Receiver
) -> None:
    alice, bob = "sk-alice-0123456789", "sk-bob-0123456789"
    settings = make_settings(tmp_path, api_keys=(f"{alice}=team-a", f"{bob}=team-b"))
    with live_server(settings) as server:
        a = httpx.Client(base_url=root(server), headers={"Authorization": f"Bearer {alice}"})
        b = httpx.Client(base_url=root(server), headers={"Authorization": f"Bearer {bob}"})
        with a, b:
            added = a.post(
                "/mockft/webhooks",
                json={
                    "url": receiver.url,
                    "secret": SECRET,
                    "event_types": ["fine_tuning.job.cancelled"],
                },
            )
            assert added.status_code == 200, added.text
            endpoint = added.json()
            assert endpoint["organization"] is not None and endpoint["secret"] == SECRET
            assert b.get("/mockft/webhooks").json()["data"] == []  # Alice's, not Bob's
            assert b.delete(f"/mockft/webhooks/{endpoint['id']}").status_code == 404
            for body, param in (
                ({"url": "ftp://example.com"}, "url"),
                ({"url": receiver.url, "secret": "not-a-secret"}, "secret"),
                ({"url": receiver.url, "event_types": ["batch.completed"]}, "event_types[0]"),
                ({}, "url"),
            ):
                refused = a.post("/mockft/webhooks", json=body)
                assert refused.status_code == 400 and refused.json()["error"]["param"] == param

            jobs = {}
            for name, client in (("alice", a), ("bob", b)):
                file = client.post(
                    "/v1/files", files={"file": ("t.jsonl", TRAIN)}, data={"purpose": "fine-tune"}
                ).json()
                for kind in ("done", "cancelled"):
                    job = client.post(
                        "/v1/fine_tuning/jobs",
                        json={"model": "gpt-4o-mini", "training_file": file["id"]},
                    ).json()
                    jobs[(name, kind)] = job["id"]
                client.post(f"/v1/fine_tuning/jobs/{jobs[(name, 'cancelled')]}/cancel")
            server.advance(86_400)
            server.service.delivery.deliver_now()
            heard = [json.loads(body)["data"]["id"] for body, _ in receiver.got]
            assert heard == [jobs[("alice", "cancelled")]]  # its organization, its event type
            assert len(a.get("/mockft/webhooks/deliveries").json()["data"]) == 1
            assert b.get("/mockft/webhooks/deliveries").json()["data"] == []
            assert a.delete(f"/mockft/webhooks/{endpoint['id']}").json()["deleted"] is True
            assert a.get("/mockft/webhooks").json()["data"] == []


def test_the_task_exists_only_while_endpoints_do(tmp_path: Path, receiver: Receiver) -> None:
    with live_server(make_settings(tmp_path)) as server, control(server) as ctl:
        delivery = server.service.delivery
        assert not delivery.running
        endpoint = ctl.post("/mockft/webhooks", json={"url": receiver.url}).json()
        assert delivery.running
        assert ctl.delete(f"/mockft/webhooks/{endpoint['id']}").status_code == 200
        assert wait_for(lambda: not delivery.running)


def test_serve_takes_webhooks_from_flags_and_prints_a_generated_secret(
    tmp_path: Path, receiver: Receiver
) -> None:
    served = Served(tmp_path / "data", "--clock", "manual", env={"MOCKFT_WEBHOOKS": receiver.url})
    served.start()
    try:
        with served.client() as http:
            endpoints = http.get("/mockft/webhooks")
        secret = endpoints.json()["secret"]
        assert webhook_signing.secret_ok(secret)
        assert f"signed with {secret}" in served.output()
        assert [e["url"] for e in endpoints.json()["data"]] == [receiver.url]
    finally:
        served.stop()
    restarted = Served(tmp_path / "data", "--webhook", receiver.url).start()
    try:
        with restarted.client() as http:
            again = http.get("/mockft/webhooks")
        assert again.json()["secret"] == secret  # kept in the data dir
    finally:
        restarted.stop()


def wait_for(condition: Any, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())
