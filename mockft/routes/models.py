from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft.routes.common import api_json, org_of, project_of, service_of
from mockft.wire import models as wire


async def list_models(request: Request) -> Response:
    models = service_of(request).models.all(org_of(request), project_of(request))
    return api_json(wire.model_list(models))


async def retrieve_model(request: Request) -> Response:
    models, model_id = service_of(request).models, request.path_params["model"]
    model = models.get(org_of(request), model_id, project_of(request))
    return api_json(wire.model(model))


async def delete_model(request: Request) -> Response:
    model_id = service_of(request).models.delete(org_of(request), request.path_params["model"])
    return api_json(wire.deleted(model_id))


routes = [
    Route("/models", list_models, methods=["GET"]),
    Route("/models/{model:path}", retrieve_model, methods=["GET"]),
    Route("/models/{model:path}", delete_model, methods=["DELETE"]),
]
