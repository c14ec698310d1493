"""Streaming multipart/form-data: text fields in memory (small, bounded), the one file
part written straight into a blob as it arrives, so memory never holds the file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from mockft import errors
from mockft.store import disk
from mockft.store.base import BlobWriter

MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 100


@dataclass
class StreamedFile:
    field: str
    filename: str
    writer: BlobWriter


@dataclass
class MultipartForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: StreamedFile | None = None

    def abort(self) -> None:
        """Drop the streamed file's bytes (the form was refused)."""
        if self.file is not None:
            self.file.writer.abort()


class _TooLarge(Exception):
    def __init__(self, read: int) -> None:
        super().__init__(read)
        self.read = read


async def read_multipart(
    content_type: str | None,
    stream: AsyncIterator[bytes],
    *,
    file_field: str,
    open_writer: Callable[[], BlobWriter],
    max_file_bytes: int,
    too_large: Callable[[int], errors.APIError],
) -> MultipartForm:
    """Parse the body; the caller owns `form.file.writer` (commit or abort it).
    On any error the writer is aborted here and an APIError is raised."""
    media_type, params = parse_options_header(content_type or "")
    if media_type != b"multipart/form-data":
        shown = errors.excerpt(content_type or "")
        raise errors.invalid(
            f"Invalid Content-Type header ({shown}), expected multipart/form-data. (HINT: If "
            "you're using curl, you can pass -H 'Content-Type: multipart/form-data')"
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise errors.invalid("Invalid multipart/form-data: missing boundary.")

    form = MultipartForm()
    state: dict[str, object] = {}
    headers: dict[bytes, bytes] = {}
    header_name = bytearray()
    header_value = bytearray()
    current: dict[str, object] = {}

    def on_part_begin() -> None:
        headers.clear()
        current.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if name is None:
            raise errors.invalid("Invalid multipart/form-data: a part has no name.")
        current["name"] = name.decode("utf-8", "replace")
        if b"filename" in options and current["name"] == file_field:
            if form.file is not None:
                raise errors.invalid(f"Only one '{file_field}' may be uploaded.", file_field)
            filename = options[b"filename"].decode("utf-8", "replace")
            form.file = StreamedFile(file_field, filename, open_writer())
            current["file"] = True
        else:
            if len(form.fields) >= MAX_FIELDS:
                raise errors.invalid("Too many form fields.")
            current["data"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if current.get("file"):
            assert form.file is not None
            if form.file.writer.size + (end - start) > max_file_bytes:
                raise _TooLarge(form.file.writer.size + (end - start))
            form.file.writer.write(data[start:end])
            return
        buffer = current["data"]
        assert isinstance(buffer, bytearray)
        if len(buffer) + (end - start) > MAX_FIELD_BYTES:
            name = errors.excerpt(str(current["name"]))
            raise errors.invalid(f"Field '{name}' is too large.", name)
        buffer.extend(data[start:end])

    def on_part_end() -> None:
        buffer = current.get("data")
        if isinstance(buffer, bytearray):
            try:
                form.fields[str(current["name"])] = buffer.decode("utf-8")
            except UnicodeDecodeError:
                name = errors.excerpt(str(current["name"]))
                raise errors.invalid(f"Field '{name}' is not valid UTF-8.", name) from None

    def on_end() -> None:
        state["ended"] = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": on_end,
        },
    )
    try:
        async for chunk in stream:
            parser.write(chunk)
            if form.file is not None:
                # The file's previous batch is still being written: await it here rather
                # than let the next write wait for it on the event loop.
                writing = form.file.writer.in_flight
                if writing is not None and not writing.done():
                    await asyncio.wrap_future(writing)
        parser.finalize()
        if not state.get("ended"):
            raise errors.invalid("Invalid multipart/form-data: the body ended early.")
        if form.file is not None:
            # The fsync of a large file takes long enough to stall every other request: on
            # a disk thread (always running; the loop's own executor starts its threads on
            # the loop, when first needed, and the loop waits for each to get a CPU).
            await asyncio.wrap_future(disk.submit(form.file.writer.flush))
    except BaseException as exc:
        if form.file is not None:
            form.file.writer.abort()
        if isinstance(exc, _TooLarge):
            raise too_large(exc.read) from None
        if isinstance(exc, FormParserError):
            raise errors.invalid("Invalid multipart/form-data body.") from None
        raise
    return form
