from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft import errors, lifecycle
from mockft.pagination import envelope, page_request
from mockft.routes.common import api_json, org_of, parse_body, project_of, service_of, settled
from mockft.schemas import MAX_METADATA_PAIRS, CreateFineTuningJob
from mockft.service import lasting
from mockft.wire import jobs as wire

JOBS_DEFAULT_LIMIT = 20
EVENTS_DEFAULT_LIMIT = 20
CHECKPOINTS_DEFAULT_LIMIT = 10
METADATA_PREFIX = "metadata["


def _checkpoint_id(checkpoint: lifecycle.Checkpoint) -> str:
    return checkpoint.id


async def create_job(request: Request) -> Response:
    body = await parse_body(request, CreateFineTuningJob)
    jobs, org, project = service_of(request).jobs, org_of(request), project_of(request)
    return api_json(wire.job(await settled(request, lambda: jobs.create(org, body, project))))


async def list_jobs(request: Request) -> Response:
    query = request.query_params
    page = page_request(query, default_limit=JOBS_DEFAULT_LIMIT)
    metadata = {
        key[len(METADATA_PREFIX) : -1]: value
        for key, value in query.items()
        if key.startswith(METADATA_PREFIX) and key.endswith("]") and len(key) > len("metadata[]")
    }
    if len(metadata) > MAX_METADATA_PAIRS:  # a job has at most 16: more can match none
        raise errors.object_too_many_properties("metadata", MAX_METADATA_PAIRS, len(metadata))
    jobs, org = service_of(request).jobs, org_of(request)
    lasting()  # the answer is the same until a listed job's next planned instant
    views = await settled(request, lambda: jobs.page(org, page, metadata or None))
    return api_json(envelope(views, page, wire.job))


async def retrieve_job(request: Request) -> Response:
    jobs, org, job_id = service_of(request).jobs, org_of(request), request.path_params["job_id"]
    lasting()  # the answer is the same until the job's next planned instant
    return api_json(wire.job(await settled(request, lambda: jobs.get(org, job_id))))


def _intervention(kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        jobs, org = service_of(request).jobs, org_of(request)
        job_id = request.path_params["job_id"]
        view = await settled(request, lambda: jobs.intervene(org, job_id, kind))
        return api_json(wire.job(view))

    return endpoint


async def list_events(request: Request) -> Response:
    page = page_request(request.query_params, default_limit=EVENTS_DEFAULT_LIMIT)
    jobs, org, job_id = service_of(request).jobs, org_of(request), request.path_params["job_id"]
    lasting()
    window = await settled(request, lambda: jobs.events(org, job_id, page))
    return api_json(envelope(wire.events(window), page))


async def list_checkpoints(request: Request) -> Response:
    page = page_request(request.query_params, default_limit=CHECKPOINTS_DEFAULT_LIMIT)
    jobs, org, job_id = service_of(request).jobs, org_of(request), request.path_params["job_id"]
    lasting()
    window = await settled(request, lambda: jobs.checkpoints(org, job_id, page))
    return api_json(envelope(wire.checkpoints(window), page, id_of=_checkpoint_id))


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
