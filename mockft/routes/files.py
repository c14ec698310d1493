"""The Files API: parse the multipart form (its keys are HTTP's business, not the
service's), call one service function, serialise what comes back."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mockft import errors
from mockft.multipart import MultipartForm, read_multipart
from mockft.pagination import envelope, page_request
from mockft.routes.common import api_json, org_of, service_of, settled
from mockft.schemas import FILE_PURPOSES, MAX_EXPIRY_SECONDS, MIN_EXPIRY_SECONDS, ExpiresAfter
from mockft.service import lasting
from mockft.wire.files import file_object

FILES_DEFAULT_LIMIT = 10_000
# Content-Disposition quotes at most this much of a name (stored names are limited, but a
# data dir from before the limit may hold longer ones).
MAX_DISPOSITION_NAME = 256


async def create_file(request: Request) -> Response:
    service, org = service_of(request), org_of(request)
    file_id = service.files.new_file_id()
    form = await read_multipart(
        request.headers.get("content-type"),
        request.stream(),
        file_field="file",
        open_writer=lambda: service.files.open_blob(file_id),
        max_file_bytes=service.settings.max_file_bytes,
        too_large=service.files.too_large,
    )
    try:
        purpose, expires_after = file_fields(form)
        if form.file is None:
            raise errors.missing_param("file")
    except BaseException:
        form.abort()
        raise
    writer, filename = form.file.writer, form.file.filename
    file = await settled(
        request,
        lambda: service.files.create(org, file_id, filename, writer, purpose, expires_after),
    )
    return api_json(file_object(file))


def file_fields(form: MultipartForm) -> tuple[str, ExpiresAfter | None]:
    """`purpose` and `expires_after[anchor]` / `expires_after[seconds]`, as the real API
    checks them; any other field is refused."""
    fields = dict(form.fields)
    purpose = fields.pop("purpose", None)
    if purpose is None:
        raise errors.missing_param("purpose")
    if purpose not in FILE_PURPOSES:
        shown = errors.excerpt(purpose)
        raise errors.invalid(f"'{shown}' is not one of {FILE_PURPOSES} - 'purpose'", "purpose")
    anchor = fields.pop("expires_after[anchor]", None)
    seconds = fields.pop("expires_after[seconds]", None)
    if fields:
        raise errors.unknown_param(sorted(fields)[0])
    if anchor is None and seconds is None:
        return purpose, None
    if anchor is None:
        raise errors.missing_param("expires_after.anchor")
    if seconds is None:
        raise errors.missing_param("expires_after.seconds")
    if anchor != "created_at":
        raise errors.invalid_value("expires_after.anchor", anchor, ["created_at"])
    try:
        value = int(seconds)
    except ValueError:
        raise errors.invalid_type("expires_after.seconds", "an integer", "a string") from None
    if value < MIN_EXPIRY_SECONDS:
        raise errors.below_minimum("expires_after.seconds", MIN_EXPIRY_SECONDS, value)
    if value > MAX_EXPIRY_SECONDS:
        raise errors.above_maximum("expires_after.seconds", MAX_EXPIRY_SECONDS, value)
    return purpose, ExpiresAfter(anchor="created_at", seconds=value)


async def list_files(request: Request) -> Response:
    service, org = service_of(request), org_of(request)
    page = page_request(request.query_params, default_limit=FILES_DEFAULT_LIMIT, orderable=True)
    window = service.files.page(org, page, request.query_params.get("purpose"))
    return api_json(envelope(window, page, file_object, id_of=lambda f: f.id))


async def retrieve_file(request: Request) -> Response:
    lasting()  # the answer is the same until the file expires
    file = service_of(request).files.get(org_of(request), request.path_params["file_id"])
    return api_json(file_object(file))


async def delete_file(request: Request) -> Response:
    result, removal = service_of(request).files.delete(
        org_of(request), request.path_params["file_id"]
    )
    if removal is not None:  # the bytes are freed on a writer thread: await, never block
        await asyncio.wrap_future(removal)
    return api_json(result)


async def file_content(request: Request) -> Response:
    opening = service_of(request).files.opening(org_of(request), request.path_params["file_id"])
    content = await asyncio.wrap_future(opening)
    return StreamingResponse(
        content.chunks,
        media_type="application/octet-stream",
        headers={
            "content-length": str(content.size),
            "content-disposition": content_disposition(content.filename),
        },
    )


def content_disposition(filename: str) -> str:
    """`attachment; filename="image.png"`, as the real API sends it (ruby-openai cassette,
    2025-02). A name that cannot be quoted as it is gets an ASCII fallback plus RFC 5987's
    UTF-8 form, so any stored name fits in a header; no name makes it long."""
    filename = filename[:MAX_DISPOSITION_NAME]
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    encoded = quote(filename.encode("utf-8", "surrogateescape"), safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


routes = [
    Route("/files", create_file, methods=["POST"]),
    Route("/files", list_files, methods=["GET"]),
    Route("/files/{file_id}", retrieve_file, methods=["GET"]),
    Route("/files/{file_id}", delete_file, methods=["DELETE"]),
    Route("/files/{file_id}/content", file_content, methods=["GET"]),
]
