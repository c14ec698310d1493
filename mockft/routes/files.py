from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mockft.multipart import read_multipart
from mockft.pagination import envelope, page_request
from mockft.routes.common import api_json, org_of, service_of
from mockft.schemas import FileObject

FILES_DEFAULT_LIMIT = 10_000


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
    return api_json(service.files.create(org, file_id, form).api())


async def list_files(request: Request) -> Response:
    service, org = service_of(request), org_of(request)
    page = page_request(request.query_params, default_limit=FILES_DEFAULT_LIMIT, orderable=True)
    window = service.files.page(org, page, request.query_params.get("purpose"))
    return api_json(envelope(window, page, FileObject.api, id_of=lambda f: f.id))


async def retrieve_file(request: Request) -> Response:
    obj = service_of(request).files.get(org_of(request), request.path_params["file_id"])
    return api_json(obj.api())


async def delete_file(request: Request) -> Response:
    result = service_of(request).files.delete(org_of(request), request.path_params["file_id"])
    return api_json(result)


async def file_content(request: Request) -> Response:
    content = service_of(request).files.content(org_of(request), request.path_params["file_id"])
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
    UTF-8 form, so any stored name fits in a header."""
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
