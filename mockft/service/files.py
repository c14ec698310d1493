"""Files: stored bytes with their metadata; expiry is a function of the clock."""

from __future__ import annotations

import itertools
import json
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
from mockft.validation import lines

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
        *,
        created_at: int | None = None,
    ) -> FileObject:
        """Record a File; `created_at` for one the service made at an earlier instant (a
        job's result file exists from the job's end, whenever that is first seen)."""
        self.purge_expired()
        now = self.now() if created_at is None else created_at
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
        that fail are deleted. Like the real API it looks at the head of a fine-tune file
        only (a bad line further down passes here and fails the job's validation), so an
        upload costs the same whatever its size."""
        if purpose != "fine-tune":
            return
        bad = first_non_dict_line(self.blobs.read(file_id, HEAD_CHUNK_BYTES))
        if bad is not None:
            self.blobs.delete(file_id)
            number, line = bad
            hint = line[:3].decode("utf-8", "replace")
            raise errors.invalid(
                "Expected file to have JSONL format, where every line is a JSON dictionary. "
                f'Line {number} is not a dictionary (HINT: line starts with: "{hint}...").'
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
        if obj.purpose in errors.UNDOWNLOADABLE_PURPOSES:
            raise errors.download_not_allowed(obj.purpose)
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


HEAD_LINES = 100  # lines of a fine-tune file the Files API parses at upload
HEAD_CHUNK_BYTES = 64 * 1024


def first_non_dict_line(chunks: Iterator[bytes]) -> tuple[int, bytes] | None:
    """Of the first HEAD_LINES lines, the first that is neither blank nor a JSON object,
    as (1-based number, line); None if they all are. Reads no further than those lines; a
    line too long to hold is left to the job's validation."""
    for number, line in enumerate(itertools.islice(lines(chunks), HEAD_LINES), start=1):
        if line is not None and line.strip() and not _is_dict(line):
            return number, line
    return None


def _is_dict(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
