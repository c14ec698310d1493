"""The control API's webhooks, under /mockft/ (not OpenAI's surface): endpoints to add, list
and remove, and every delivery with its attempts. Each calls the control backend with the
caller the envelope authenticated (an ordinary key of a server with several organizations
acts for its own organization only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft.pagination import envelope, page_request
from mockft.routes.common import api_json, parse_body, service_of
from mockft.routes.control import LIST, caller_of, control_of
from mockft.service import EndpointSpec
from mockft.wire import webhooks as wire

DELIVERIES_DEFAULT_LIMIT = 100
DELIVERIES_MAX_LIMIT = 1000


async def add_webhook(request: Request) -> Response:
    spec = await parse_body(request, EndpointSpec)
    return api_json(wire.endpoint(control_of(request).add_webhook(caller_of(request), spec)))


async def list_webhooks(request: Request) -> Response:
    endpoints = control_of(request).webhooks(caller_of(request))
    secret = service_of(request).webhooks.secret
    return api_json(
        {"object": LIST, "data": [wire.endpoint(e) for e in endpoints], "secret": secret}
    )


async def clear_webhooks(request: Request) -> Response:
    deleted = control_of(request).clear_webhooks(caller_of(request))
    return api_json({"object": LIST, "deleted": deleted})


async def delete_webhook(request: Request) -> Response:
    endpoint_id = request.path_params["endpoint_id"]
    return api_json(control_of(request).remove_webhook(caller_of(request), endpoint_id))


async def list_deliveries(request: Request) -> Response:
    """Oldest first (`order=desc` for newest first); `job_id` keeps one job's."""
    query = request.query_params
    page = page_request(
        query,
        default_limit=DELIVERIES_DEFAULT_LIMIT,
        max_limit=DELIVERIES_MAX_LIMIT,
        default_order="asc",
        orderable=True,
    )
    job_id = query.get("job_id") or None
    found = control_of(request).webhook_deliveries(caller_of(request), page, job_id)
    return api_json(envelope(found, page, wire.delivery, id_of=wire.delivery_id))


routes = [
    Route("/webhooks", add_webhook, methods=["POST"]),
    Route("/webhooks", list_webhooks, methods=["GET"]),
    Route("/webhooks", clear_webhooks, methods=["DELETE"]),
    Route("/webhooks/deliveries", list_deliveries, methods=["GET"]),
    Route("/webhooks/{endpoint_id}", delete_webhook, methods=["DELETE"]),
]
