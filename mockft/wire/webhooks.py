"""The control API's webhook objects (`/mockft/webhooks`), and the event a delivery carries
(the spec's `WebhookFineTuningJob*` schemas: `id`, `object`, `created_at`, `type`,
`data.id`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockft.service.webhooks import Endpoint

ENDPOINT_OBJECT = "mockft.webhook_endpoint"
DELIVERY_FIELDS = (
    "object",
    "id",
    "webhook_id",
    "event",
    "job_id",
    "organization_id",
    "endpoint_id",
    "url",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)


def endpoint(e: Endpoint) -> dict[str, Any]:
    return {
        "object": ENDPOINT_OBJECT,
        "id": e.id,
        "url": e.url,
        "secret": e.secret,
        "event_types": list(e.event_types),
        "created_at": e.created_at,
        "organization": e.organization,
        "configured": e.configured,
    }


def delivery(doc: dict[str, Any]) -> dict[str, Any]:
    """A delivery of one event to one endpoint, with every attempt made so far."""
    return {name: doc.get(name) for name in DELIVERY_FIELDS}


def delivery_id(doc: dict[str, Any]) -> str:
    return str(doc["id"])


def deleted(endpoint_id: str) -> dict[str, Any]:
    return {"object": ENDPOINT_OBJECT, "id": endpoint_id, "deleted": True}
