"""Checkpoint permissions (admin keys only: the envelope refuses any other key):
`POST`/`GET /v1/fine_tuning/checkpoints/{checkpoint}/permissions` and
`DELETE …/permissions/{permission_id}`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft.pagination import PageRequest, envelope, page_request
from mockft.paging import Order
from mockft.routes.common import api_json, org_of, parse_body, service_of
from mockft.schemas import Request as RequestBody
from mockft.wire import permissions as wire

DEFAULT_LIMIT = 10
MAX_PROJECTS = 100
ORDERS: dict[str, Order] = {"ascending": "asc", "descending": "desc"}  # this list's words
PROJECT_ID_LENGTH = 256


class CreatePermissions(RequestBody):
    project_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=PROJECT_ID_LENGTH)]],
        Field(min_length=1, max_length=MAX_PROJECTS),
    ]


async def create_permissions(request: Request) -> Response:
    body = await parse_body(request, CreatePermissions)
    checkpoint = request.path_params["checkpoint"]
    made = service_of(request).permissions.create(org_of(request), checkpoint, body.project_ids)
    page = PageRequest(limit=max(1, len(made)))  # all of them, in the order given
    return api_json(envelope(made, page, wire.permission, id_of=wire.permission_id))


async def list_permissions(request: Request) -> Response:
    query = request.query_params
    page = page_request(
        query, default_limit=DEFAULT_LIMIT, orderable=True, orders=ORDERS, default_order="desc"
    )
    project_id = query.get("project_id") or None
    checkpoint = request.path_params["checkpoint"]
    window = service_of(request).permissions.page(org_of(request), checkpoint, page, project_id)
    return api_json(envelope(window, page, wire.permission, id_of=wire.permission_id))


async def delete_permission(request: Request) -> Response:
    params = request.path_params
    permissions = service_of(request).permissions
    deleted = permissions.delete(org_of(request), params["checkpoint"], params["permission_id"])
    return api_json(wire.deleted(deleted))


PERMISSIONS = "/fine_tuning/checkpoints/{checkpoint}/permissions"
routes = [
    Route(PERMISSIONS, create_permissions, methods=["POST"]),
    Route(PERMISSIONS, list_permissions, methods=["GET"]),
    Route(PERMISSIONS + "/{permission_id}", delete_permission, methods=["DELETE"]),
]
