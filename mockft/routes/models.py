from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft.routes.common import api_json, org_of, service_of


async def list_models(request: Request) -> Response:
    data = [m.api() for m in service_of(request).models.all(org_of(request))]
    return api_json({"object": "list", "data": data})


async def retrieve_model(request: Request) -> Response:
    model = service_of(request).models.get(org_of(request), request.path_params["model"])
    return api_json(model.api())


async def delete_model(request: Request) -> Response:
    result = service_of(request).models.delete(org_of(request), request.path_params["model"])
    return api_json(result)


routes = [
    Route("/models", list_models, methods=["GET"]),
    Route("/models/{model:path}", retrieve_model, methods=["GET"]),
    Route("/models/{model:path}", delete_model, methods=["DELETE"]),
]
