"""Files: stored bytes with their metadata; expiry is a function of the clock."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mockft import errors
from mockft.auth import Organization
from mockft.multipart import MultipartForm
from mockft.pagination import PageRequest
from mockft.schemas import (
    FILE_PURPOSES,
    MAX_EXPIRY_SECONDS,
    MIN_EXPIRY_SECONDS,
    ExpiresAfter,
    FileObject,
)
from mockft.service.context import Part
from mockft.store import BlobWriter

FILE = "file"
FILE_PREFIX = "file-"
FINE_TUNE_EXTENSION = ".jsonl"
BATCH_DEFAULT_EXPIRY_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class FileContent:
    filename: str
    size: int
    chunks: Iterator[bytes]


class Files(Part):
    def new_file_id(self) -> str:
        return self.new_id(FILE_PREFIX)

    def open_blob(self, key: str) -> BlobWriter:
        return self.blobs.writer(key)

    def too_large(self) -> errors.APIError:
        limit = self.settings.max_file_bytes
        return errors.APIError(
            413, f"Maximum content size limit ({limit}) exceeded ({limit + 1} bytes read)"
        )

    def create(self, org: Organization, file_id: str, form: MultipartForm) -> FileObject:
        """Commit the streamed bytes of `form` as a File, or abort them on any error."""
        with form.keeping_file():
            purpose, expires_after = _file_fields(form)
            if form.file is None:
                raise errors.missing_param("file")
            if purpose == "fine-tune" and not form.file.filename.endswith(FINE_TUNE_EXTENSION):
                raise errors.invalid(
                    "Invalid file format for Fine-Tuning API. Must be .jsonl", "file"
                )
        assert form.file is not None  # checked in the block above
        self.check_content(file_id, purpose)
        return self.store_file(
            org, file_id, form.file.filename, purpose, form.file.writer.size, expires_after
        )

    def store_file(
        self,
        org: Organization,
        file_id: str,
        filename: str,
        purpose: str,
        size: int,
        expires_after: ExpiresAfter | None,
    ) -> FileObject:
        self.purge_expired()
        now = self.now()
        expires_at: int | None = None
        if expires_after is not None:
            expires_at = now + expires_after.seconds
        elif purpose == "batch":
            expires_at = now + BATCH_DEFAULT_EXPIRY_SECONDS
        obj = FileObject(
            id=file_id,
            purpose=purpose,
            filename=filename,
            bytes=size,
            created_at=now,
            expires_at=expires_at,
        )
        self.store.insert(FILE, file_id, org.id, obj.api(), tag=purpose, gone_at=expires_at)
        return obj

    def write_generated(self, content: bytes) -> str:
        """The bytes of a file the service makes itself (a job's result file); the caller
        records the File with `store_file`. Until then the start-up sweep owns them."""
        file_id = self.new_file_id()
        writer = self.blobs.writer(file_id)
        writer.write(content)
        writer.commit()
        return file_id

    def check_content(self, file_id: str, purpose: str) -> None:
        """What the Files API checks of committed bytes before they become a File; bytes
        that fail are deleted. A fine-tune file must be JSON lines of objects: the first
        lines are parsed, every line is checked for the shape of an object at memory speed
        (the deep, line-by-line checks come when a job validates the file)."""
        if purpose != "fine-tune":
            return
        bad = first_non_object_line(self.blobs.read(file_id))
        if bad is not None:
            self.blobs.delete(file_id)
            raise errors.invalid(
                "Invalid file format for Fine-Tuning API. Must be .jsonl "
                f"(line {bad} is not a JSON object)",
                "file",
            )

    def get(self, org: Organization, file_id: str) -> FileObject:
        doc = self.store.get(FILE, file_id, org.id, self.now())
        if doc is None:
            raise errors.file_not_found(file_id)
        return FileObject.model_validate(doc)

    def page(self, org: Organization, page: PageRequest, purpose: str | None) -> list[FileObject]:
        docs = self.store.page(FILE, org.id, page, self.now(), tag=purpose)
        return [FileObject.model_validate(d) for d in docs]

    def delete(self, org: Organization, file_id: str) -> dict[str, Any]:
        self.get(org, file_id)
        self.store.delete(FILE, file_id)
        self.blobs.delete(file_id)
        return {"object": "file", "id": file_id, "deleted": True}

    def content(self, org: Organization, file_id: str) -> FileContent:
        obj = self.get(org, file_id)
        return FileContent(obj.filename, obj.bytes, self.blobs.read(file_id))

    def purge_expired(self) -> None:
        now = self.now()
        for file_id in self.store.gone(FILE, now):
            self.store.delete(FILE, file_id)
            self.blobs.delete(file_id)


def _file_fields(form: MultipartForm) -> tuple[str, ExpiresAfter | None]:
    fields = dict(form.fields)
    purpose = fields.pop("purpose", None)
    if purpose is None:
        raise errors.missing_param("purpose")
    if purpose not in FILE_PURPOSES:
        raise errors.invalid(f"'{purpose}' is not one of {FILE_PURPOSES} - 'purpose'", "purpose")
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


# A line that is blank or looks like one JSON object: `{ ... }`.
NOT_AN_OBJECT_LINE = re.compile(rb"^(?![ \t]*(?:\{[^\n]*\}[ \t\r]*)?$)", re.MULTILINE)
PARSED_LINES = 100


def first_non_object_line(chunks: Iterator[bytes]) -> int | None:
    """The 1-based number of the first line that is not a JSON object, or None."""
    seen = 0  # lines wholly before `pending`
    pending = b""
    for chunk in chunks:
        pending = pending + chunk if pending else chunk
        cut = pending.rfind(b"\n") + 1
        if cut:
            found = _scan(pending, cut, seen)
            if found is not None:
                return found
            seen += pending.count(b"\n", 0, cut)
            pending = pending[cut:]
    return _scan(pending + b"\n", len(pending) + 1, seen) if pending else None


def _scan(block: bytes, end: int, seen: int) -> int | None:
    """`block[:end]` holds whole lines, the first being line `seen + 1`."""
    match = None if _all_braced(block, end) else NOT_AN_OBJECT_LINE.search(block, 0, end)
    limit = match.start() if match else end
    if seen < PARSED_LINES:
        start = 0
        for number in range(seen + 1, PARSED_LINES + 1):
            stop = block.find(b"\n", start, limit)
            if stop < 0:
                break
            line = block[start:stop]
            if line.strip() and not _is_object(line):
                return number
            start = stop + 1
    if match is None:
        return None
    return seen + block.count(b"\n", 0, match.start()) + 1


def _all_braced(block: bytes, end: int) -> bool:
    """Fast path (counts run at memory speed): every line of `block[:end]` is `{...}` or
    empty, with no padding. Anything else (CRLF, spaces, a bad line) goes to the regular
    expression."""
    lines = block.count(b"\n", 0, end)
    blank = block.count(b"\n\n", 0, end) + block.startswith(b"\n")
    closed = block.count(b"}\n", 0, end)
    opened = block.count(b"\n{", 0, end) + block.startswith(b"{")
    return closed + blank == lines and opened + blank == lines


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
