from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft import lifecycle
from mockft.pagination import envelope, page_request, slice_after
from mockft.routes.common import api_json, org_of, parse_body, service_of
from mockft.schemas import CreateFineTuningJob

JOBS_DEFAULT_LIMIT = 20
EVENTS_DEFAULT_LIMIT = 20
CHECKPOINTS_DEFAULT_LIMIT = 10
METADATA_PREFIX = "metadata["


def checkpoint_api(job_id: str) -> Callable[[lifecycle.CheckpointSpec], dict[str, Any]]:
    def serialize(checkpoint: lifecycle.CheckpointSpec) -> dict[str, Any]:
        return {
            "object": "fine_tuning.job.checkpoint",
            "id": checkpoint.id,
            "created_at": checkpoint.created_at,
            "fine_tuned_model_checkpoint": checkpoint.fine_tuned_model_checkpoint,
            "fine_tuning_job_id": job_id,
            "metrics": checkpoint.metrics,
            "step_number": checkpoint.step_number,
        }

    return serialize


async def create_job(request: Request) -> Response:
    body = await parse_body(request, CreateFineTuningJob)
    return api_json(service_of(request).jobs.create(org_of(request), body))


async def list_jobs(request: Request) -> Response:
    query = request.query_params
    page = page_request(query, default_limit=JOBS_DEFAULT_LIMIT)
    metadata = {
        key[len(METADATA_PREFIX) : -1]: value
        for key, value in query.items()
        if key.startswith(METADATA_PREFIX) and key.endswith("]") and len(key) > len("metadata[]")
    }
    jobs = service_of(request).jobs.page(org_of(request), page, metadata or None)
    return api_json(envelope(jobs, page))


async def retrieve_job(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    return api_json(service_of(request).jobs.get(org_of(request), job_id))


def _intervention(kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        return api_json(service_of(request).jobs.intervene(org_of(request), job_id, kind))

    return endpoint


async def list_events(request: Request) -> Response:
    page = page_request(request.query_params, default_limit=EVENTS_DEFAULT_LIMIT)
    events = service_of(request).jobs.events(org_of(request), request.path_params["job_id"])
    # An EventSpec is the event object as the API shows it: orjson writes the dataclass.
    window = slice_after(events, page, lambda e: e.id)
    return api_json(envelope(window, page))


async def list_checkpoints(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    page = page_request(request.query_params, default_limit=CHECKPOINTS_DEFAULT_LIMIT)
    checkpoints = service_of(request).jobs.checkpoints(org_of(request), job_id)
    window = slice_after(checkpoints, page, lambda c: c.id)
    return api_json(envelope(window, page, checkpoint_api(job_id), id_of=lambda c: c.id))


# Most requests are polls: the routes they hit are matched first.
routes = [
    Route("/fine_tuning/jobs/{job_id}/events", list_events, methods=["GET"]),
    Route("/fine_tuning/jobs/{job_id}", retrieve_job, methods=["GET"]),
    Route("/fine_tuning/jobs/{job_id}/checkpoints", list_checkpoints, methods=["GET"]),
    Route("/fine_tuning/jobs", create_job, methods=["POST"]),
    Route("/fine_tuning/jobs", list_jobs, methods=["GET"]),
    Route("/fine_tuning/jobs/{job_id}/cancel", _intervention(lifecycle.CANCEL), methods=["POST"]),
    Route("/fine_tuning/jobs/{job_id}/pause", _intervention(lifecycle.PAUSE), methods=["POST"]),
    Route("/fine_tuning/jobs/{job_id}/resume", _intervention(lifecycle.RESUME), methods=["POST"]),
]
