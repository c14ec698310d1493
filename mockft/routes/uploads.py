"""The Uploads API: parse the body (JSON, or a part's multipart form), call one service
function, serialise what comes back."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockft import errors
from mockft.multipart import read_multipart
from mockft.routes.common import api_json, org_of, parse_body, service_of, settled
from mockft.schemas import CompleteUpload, CreateUpload
from mockft.service import MAX_PART_BYTES
from mockft.wire.files import part_object, upload_object


async def create_upload(request: Request) -> Response:
    body = await parse_body(request, CreateUpload)
    return api_json(upload_object(service_of(request).uploads.create(org_of(request), body)))


async def add_part(request: Request) -> Response:
    service, org = service_of(request), org_of(request)
    upload_id = request.path_params["upload_id"]
    part_id = service.uploads.reserve_part(org, upload_id)
    form = await read_multipart(
        request.headers.get("content-type"),
        request.stream(),
        file_field="data",
        open_writer=lambda: service.files.open_blob(part_id),
        max_file_bytes=MAX_PART_BYTES,
        too_large=service.uploads.part_too_large,
    )
    try:
        extra = sorted(form.fields)
        if extra:
            raise errors.unknown_param(extra[0])
        if form.file is None:
            raise errors.missing_param("data")
    except BaseException:
        form.abort()
        raise
    writer = form.file.writer
    part = await settled(request, lambda: service.uploads.add_part(org, upload_id, part_id, writer))
    return api_json(part_object(part))


async def complete_upload(request: Request) -> Response:
    body = await parse_body(request, CompleteUpload)
    uploads, org, upload_id = (
        service_of(request).uploads,
        org_of(request),
        request.path_params["upload_id"],
    )
    upload = await settled(request, lambda: uploads.complete(org, upload_id, body))
    return api_json(upload_object(upload))


async def cancel_upload(request: Request) -> Response:
    upload = service_of(request).uploads.cancel(org_of(request), request.path_params["upload_id"])
    return api_json(upload_object(upload))


routes = [
    Route("/uploads", create_upload, methods=["POST"]),
    Route("/uploads/{upload_id}/parts", add_part, methods=["POST"]),
    Route("/uploads/{upload_id}/complete", complete_upload, methods=["POST"]),
    Route("/uploads/{upload_id}/cancel", cancel_upload, methods=["POST"]),
]
