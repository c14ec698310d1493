"""The handles' webhooks: an in-process receiver that the service delivers to (no socket),
the deliveries with their attempts, and endpoints of the test's own.

    def test_hears_success(mockft):
        hook = mockft.webhooks           # the receiver listens from here on
        job = ...create a job...
        mockft.run_until_done(job.id)    # each clock move delivers what became due
        event = mockft.openai().webhooks.unwrap(
            hook.received[0].body, hook.received[0].headers, secret=hook.secret
        )
        assert event.type == "fine_tuning.job.succeeded"

Deliveries are made when the test moves the clock (`advance`, `run_until_done`), when a job
is completed or failed through the handle, and when `received` is read: synchronously, so
what became due is there when the call returns.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockft.pytest_plugin.controls import MockFTControls

# The receiver's address: never resolved, the service hands the delivery to it directly.
RECEIVER_URL = "http://webhooks.mockft.test/receiver"
OK = 200


@dataclass(frozen=True)
class ReceivedWebhook:
    """One delivery as the receiver got it: the body's bytes and the headers (give both to
    `client.webhooks.unwrap(body, headers, secret=...)`)."""

    body: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event

    @property
    def type(self) -> str:
        return str(self.event["type"])

    @property
    def job_id(self) -> str:
        return str(self.event["data"]["id"])

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class WebhookReceiver:
    """An endpoint in the test's process: keeps what it receives and answers 200, or the
    statuses `fail_next` queued."""

    def __init__(self) -> None:
        self.received: list[ReceivedWebhook] = []
        self.attempts = 0
        self._failures: deque[int] = deque()

    def fail_next(self, times: int = 1, status: int = 500) -> None:
        """Answer the next `times` attempts with `status` (the service retries them)."""
        self._failures.extend([status] * times)

    def __call__(self, body: bytes, headers: dict[str, str]) -> int:
        self.attempts += 1
        if self._failures:
            return self._failures.popleft()
        self.received.append(ReceivedWebhook(body, dict(headers)))
        return OK


class WebhooksHandle:
    def __init__(self, controls: MockFTControls) -> None:
        self._controls = controls
        self._receiver: WebhookReceiver | None = None

    @property
    def secret(self) -> str:
        """The secret the service signs with (`whsec_…`)."""
        return self._controls.service.webhooks.secret

    @property
    def receiver(self) -> WebhookReceiver:
        """The in-process receiver, listening from its first use on (it hears the jobs that
        end after that)."""
        webhooks = self._controls.service.webhooks
        known = {e.url for e in webhooks.endpoints()}
        if self._receiver is None or RECEIVER_URL not in known:
            self._receiver = WebhookReceiver()
            if RECEIVER_URL not in known:
                self.add(RECEIVER_URL)
            webhooks.receivers[RECEIVER_URL] = self._receiver
        return self._receiver

    @property
    def received(self) -> list[ReceivedWebhook]:
        """What the receiver got, oldest first (what is due is delivered first)."""
        receiver = self.receiver
        self.deliver()
        return list(receiver.received)

    def fail_next(self, times: int = 1, status: int = 500) -> None:
        self.receiver.fail_next(times, status)

    def add(self, url: str, **endpoint: Any) -> dict[str, Any]:
        """Another endpoint (`secret`, `event_types` as `POST /mockft/webhooks` takes them)."""
        from mockft.wire import webhooks as wire

        controls = self._controls
        added = controls.control.add_webhook(controls._caller, {"url": url, **endpoint})
        return wire.endpoint(added)

    def deliver(self) -> None:
        """Make every attempt due now (the handle's clock moves do this already)."""
        self._controls.service.delivery.deliver_now()

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery, oldest first, each with its `attempts`."""
        from mockft.pagination import MAX_LIMIT, PageRequest
        from mockft.wire import webhooks as wire

        controls = self._controls
        page = PageRequest(limit=MAX_LIMIT, order="asc")
        found = controls.control.webhook_deliveries(controls._caller, page)
        return [wire.delivery(d) for d in found[:MAX_LIMIT]]
