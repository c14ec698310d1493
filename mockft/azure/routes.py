"""Azure OpenAI's paths over the same service.

- The classic data plane, `/openai/...?api-version=DATE`: files, uploads, fine-tuning jobs,
  graders and models at OpenAI's paths, answered in Azure's view of the objects
  (`shapes.reshape`); creations answer 201 with a `location`, as Azure's REST reference
  says. Models are called through `/openai/deployments/{name}/chat/completions` (and
  `/completions`).
- The v1 data plane, `/openai/v1/...` (no `api-version`, or `v1` / `preview`): the same
  resources in OpenAI's shapes (files still go through the import), and
  `/openai/v1/chat/completions` where the request's `model` names a deployment.
- Any other path under `/openai` is Azure's 404 "Resource not found".
- `/mockft/azure/deployments[/{name}]`: the stand-in for Azure's control plane (outside
  Azure's surface, authenticated like the rest of the control API).

Every data-plane route checks the `api-version` first (a missing or unknown one finds no
operation), then Azure's credentials (`auth.organization`), then runs the `/v1` endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Message

from mockft.auth import Organization
from mockft.azure import auth, errors, shapes, versions
from mockft.azure.deployments import DeploymentRequest, Deployments
from mockft.errors import APIError
from mockft.routes import chat, files, fine_tuning, graders, models, uploads
from mockft.routes.common import api_json, org_of, parse_body, read_body, service_of
from mockft.schemas import parse_json_body

CLASSIC_PREFIX = "/openai"
V1_PREFIX = "/openai/v1"
DEPLOYMENT_PATH = "/deployments/{deployment}"
CONTROL_PATH = "/mockft/azure/deployments"
JSON_MEDIA_TYPE = "application/json"
# Creations the classic data plane answers with 201 Created and a location.
CREATED_PATHS = frozenset({"/files", "/fine_tuning/jobs"})
# A path Azure does not serve is 404 whatever the method (a Route defaults to GET only).
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Calls that go to a model, and so through a deployment: the endpoint that serves each.
MODEL_CALL_PATHS = {"/chat/completions": "chat", "/completions": "completions"}

Endpoint = Callable[[Request], Awaitable[Response]]
VersionCheck = Callable[[str | None], None]


def _resources() -> list[Route]:
    """The `/v1` resource routes Azure serves at the same paths."""
    tables = (files.routes, uploads.routes, fine_tuning.routes, graders.routes, models.routes)
    return [r for table in tables for r in table if isinstance(r, Route)]


def _fine_tuning_version(version: str | None) -> None:
    versions.require(version, versions.FINE_TUNING)


def _inference_version(version: str | None) -> None:
    versions.require(version, versions.INFERENCE)


def deployments_of(request: Request) -> Deployments:
    service = service_of(request)
    return Deployments(service.ctx, service.models)


def _enter(request: Request, check_version: VersionCheck) -> Organization:
    """The route's own checks, in Azure's order: the operation (its `api-version`), then
    the credentials. The caller's organization is the request's from here on."""
    check_version(request.query_params.get(versions.PARAM))
    org = auth.organization(service_of(request).keys, request.headers)
    request.state.org = org
    return org


def _resource(prefix: str, route: Route, check_version: VersionCheck, *, classic: bool) -> Route:
    target = cast(Endpoint, route.endpoint)
    created = classic and route.path in CREATED_PATHS and route.methods == {"POST"}

    async def endpoint(request: Request) -> Response:
        _enter(request, check_version)
        response = await target(request)
        return _azure_view(request, response, classic=classic, created=created)

    return Route(prefix + route.path, endpoint, methods=route.methods)


def _azure_view(request: Request, response: Response, *, classic: bool, created: bool) -> Response:
    """The response with its JSON body in Azure's view; streams and errors pass unchanged."""
    if (
        isinstance(response, StreamingResponse)
        or response.media_type != JSON_MEDIA_TYPE
        or not 200 <= response.status_code < 300
    ):
        return response
    now = service_of(request).ctx.now()
    body = shapes.reshape(orjson.loads(response.body), now, classic=classic)
    headers = {
        k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")
    }
    status = response.status_code
    if created and isinstance(body, dict) and isinstance(body.get("id"), str):
        status = 201
        headers["location"] = f"{request.url.replace(query='')}/{body['id']}"
    return api_json(body, status, headers)


def _deployment_call(prefix: str, path: str, target: Endpoint, check: VersionCheck) -> Route:
    """`{prefix}/deployments/{name}{path}`: the deployment in the path picks the model."""

    async def endpoint(request: Request) -> Response:
        org = _enter(request, check)
        deployments = deployments_of(request)
        model = deployments.model_for(org, request.path_params["deployment"])
        deployments.check_operation(org, model, MODEL_CALL_PATHS[path])
        raw = await _read_body(request)
        body = _json_object(raw)
        if body is None:  # not a JSON object: the endpoint answers as it answers that
            return await target(_replay(request, raw))
        return await target(_replay(request, json.dumps({**body, "model": model}).encode()))

    return Route(prefix + DEPLOYMENT_PATH + path, endpoint, methods=["POST"])


def _model_call(path: str, target: Endpoint) -> Route:
    """`/openai/v1{path}`: the request's `model` names the deployment."""

    async def endpoint(request: Request) -> Response:
        org = _enter(request, versions.require_v1)
        raw = await _read_body(request)
        body = _json_object(raw)
        if body is None or not isinstance(body.get("model"), str):
            return await target(_replay(request, raw))
        deployments = deployments_of(request)
        model = deployments.model_for(org, body["model"])
        deployments.check_operation(org, model, MODEL_CALL_PATHS[path])
        return await target(_replay(request, json.dumps({**body, "model": model}).encode()))

    return Route(V1_PREFIX + path, endpoint, methods=["POST"])


async def _read_body(request: Request) -> bytes:
    """The body, refused (413) past the JSON limit as the `/v1` endpoints refuse it."""
    return await read_body(request, service_of(request).settings.max_json_bytes)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """The body if the endpoint would take it as a JSON object (the same strict reading);
    None otherwise, and the endpoint answers it as it answers any such body."""
    try:
        return parse_json_body(raw)
    except APIError:
        return None


def _replay(request: Request, content: bytes) -> Request:
    """The same request (scope, state, caller) with the body `content`."""

    async def receive() -> Message:
        return {"type": "http.request", "body": content, "more_body": False}

    return Request(request.scope, receive)


async def _not_found(request: Request) -> Response:
    raise errors.resource_not_found()


# --- the stand-in control plane ------------------------------------------------------------


async def put_deployment(request: Request) -> Response:
    body = await parse_body(request, DeploymentRequest)
    deployment, made = deployments_of(request).put(
        org_of(request), request.path_params["name"], body.model
    )
    return api_json(deployment.api(), 201 if made else 200)


async def get_deployment(request: Request) -> Response:
    deployment = deployments_of(request).get(org_of(request), request.path_params["name"])
    return api_json(deployment.api())


async def delete_deployment(request: Request) -> Response:
    return api_json(deployments_of(request).delete(org_of(request), request.path_params["name"]))


async def list_deployments(request: Request) -> Response:
    found = deployments_of(request).all(org_of(request))
    return api_json({"object": "list", "data": [d.api() for d in found]})


def _model_calls() -> dict[str, Endpoint]:
    by_path = {r.path: cast(Endpoint, r.endpoint) for r in chat.routes if isinstance(r, Route)}
    return {path: by_path[path] for path in MODEL_CALL_PATHS}


def routes() -> Sequence[BaseRoute]:
    """Every Azure route, the catch-all 404 last."""
    table: list[BaseRoute] = []
    for route in _resources():
        table.append(_resource(V1_PREFIX, route, versions.require_v1, classic=False))
        table.append(_resource(CLASSIC_PREFIX, route, _fine_tuning_version, classic=True))
    for path, target in _model_calls().items():
        table.append(_model_call(path, target))
        table.append(_deployment_call(V1_PREFIX, path, target, versions.require_v1))
        table.append(_deployment_call(CLASSIC_PREFIX, path, target, _inference_version))
    table += [
        Route(CONTROL_PATH, list_deployments, methods=["GET"]),
        Route(CONTROL_PATH + "/{name}", put_deployment, methods=["PUT"]),
        Route(CONTROL_PATH + "/{name}", get_deployment, methods=["GET"]),
        Route(CONTROL_PATH + "/{name}", delete_deployment, methods=["DELETE"]),
        Route(CLASSIC_PREFIX, _not_found, methods=ANY_METHOD),
        Route(CLASSIC_PREFIX + "/{rest:path}", _not_found, methods=ANY_METHOD),
    ]
    return table
