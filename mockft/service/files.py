"""Files: stored bytes with their metadata; expiry is a function of the clock."""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mockft import errors
from mockft.auth import Organization
from mockft.pagination import PageRequest
from mockft.paging import keeping
from mockft.schemas import ExpiresAfter
from mockft.service.context import Part, lasts_until
from mockft.service.work import settle
from mockft.store import BlobWriter, disk
from mockft.validation import lines
from mockft.wire.files import FILE_OBJECT, FileRecord, file_object

FILE = "file"
FILE_PREFIX = "file-"
FINE_TUNE_EXTENSION = ".jsonl"
BATCH_DEFAULT_EXPIRY_SECONDS = 30 * 24 * 3600
# No capture shows the real API's limit; every name a filesystem can hold (255 bytes)
# fits, and a download's Content-Disposition stays a short header.
MAX_FILENAME_LENGTH = 256
log = logging.getLogger("mockft")


@dataclass(frozen=True)
class FileContent:
    filename: str
    size: int
    chunks: Iterator[bytes]


@contextmanager
def committing(writer: BlobWriter) -> Iterator[None]:
    """Commit the streamed bytes if the block (the caller's checks) succeeds; abort them if
    it raises. Nothing half-checked is ever kept. The commit runs on a disk thread: an
    operation run `deferring()` raises `Pending` until it is done, and is run again."""
    try:
        yield
    except BaseException:
        writer.abort()
        raise
    settle(writer.publish())


def check_filename(filename: str, param: str) -> None:
    if len(filename) > MAX_FILENAME_LENGTH:
        raise errors.string_too_long(param, MAX_FILENAME_LENGTH, len(filename))


def check_fine_tune_name(filename: str, purpose: str, param: str) -> None:
    if purpose == "fine-tune" and not filename.endswith(FINE_TUNE_EXTENSION):
        raise errors.invalid("Invalid file format for Fine-Tuning API. Must be .jsonl", param)


class Files(Part):
    def new_file_id(self) -> str:
        return self.new_id(FILE_PREFIX)

    def open_blob(self, key: str) -> BlobWriter:
        return self.blobs.writer(key)

    def too_large(self, read: int) -> errors.APIError:
        return errors.content_too_large(self.settings.max_file_bytes, read)

    def create(
        self,
        org: Organization,
        file_id: str,
        filename: str,
        writer: BlobWriter,
        purpose: str,
        expires_after: ExpiresAfter | None,
    ) -> FileRecord:
        """Commit the bytes streamed into `writer` as a File, or abort them on any error."""
        with committing(writer):
            check_filename(filename, "file")
            check_fine_tune_name(filename, purpose, "file")
        self.check_content(file_id, purpose)
        return self.store_file(org, file_id, filename, purpose, writer.size, expires_after)

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
    ) -> FileRecord:
        """Record a File; `created_at` for one the service made at an earlier instant (a
        job's result file exists from the job's end, whenever that is first seen)."""
        self.purge_expired()
        now = self.now() if created_at is None else created_at
        expires_at: int | None = None
        if expires_after is not None:
            expires_at = now + expires_after.seconds
        elif purpose == "batch":
            expires_at = now + BATCH_DEFAULT_EXPIRY_SECONDS
        file = FileRecord(
            id=file_id,
            purpose=purpose,
            filename=filename,
            bytes=size,
            created_at=now,
            expires_at=expires_at,
        )
        self.store.insert(FILE, file_id, org.id, file_object(file), tag=purpose, gone_at=expires_at)
        return file

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
            self.blobs.discard(file_id)
            number, line = bad
            hint = line[:3].decode("utf-8", "replace")
            raise errors.invalid(
                "Expected file to have JSONL format, where every line is a JSON dictionary. "
                f'Line {number} is not a dictionary (HINT: line starts with: "{hint}...").'
            )

    def get(self, org: Organization, file_id: str) -> FileRecord:
        doc = self.store.get(FILE, file_id, org.id, self.now())
        if doc is None:
            raise errors.file_not_found(file_id)
        record = _readable(doc)
        if record is None:
            raise errors.file_not_found(file_id)
        lasts_until(record.expires_at)  # then it is gone
        return record

    def page(self, org: Organization, page: PageRequest, purpose: str | None) -> list[FileRecord]:
        self.purge_expired()
        readable, files = keeping(_readable)
        self.store.page(FILE, org.id, page, self.now(), tag=purpose, readable=readable)
        return files

    def delete(self, org: Organization, file_id: str) -> tuple[dict[str, Any], Future[None] | None]:
        """The deletion's answer, and the removal of the bytes still under way (await it
        before answering: the space is free when the client hears "deleted").

        Works on a full disk: when the store cannot record the deletion for want of
        space, the file's bytes go first (which frees the space) and the record follows.
        A crash in between leaves a File without bytes, which start-up deletes
        (`Service.sweep`): a deletion, once begun, is finished."""
        self.get(org, file_id)
        try:
            self.store.delete(FILE, file_id)
        except Exception:
            self.blobs.delete(file_id)
            self.store.delete(FILE, file_id)
        removal = self.blobs.discard(file_id)
        return {"object": FILE_OBJECT, "id": file_id, "deleted": True}, removal

    def opening(self, org: Organization, file_id: str) -> Future[FileContent]:
        """`content`, on a disk thread (await it off the event loop): finding a File's bytes
        lists a directory and opens a file, which wait for the filesystem (behind whatever
        the disk is writing). It reads the store as `content` does, at the caller's instant."""
        return disk.submit(contextvars.copy_context().run, self.content, org, file_id)

    def content(self, org: Organization, file_id: str) -> FileContent:
        file = self.get(org, file_id)
        if file.purpose in errors.UNDOWNLOADABLE_PURPOSES:
            raise errors.download_not_allowed(file.purpose)
        if self.blobs.size(file_id) is None:  # deleted while we looked
            raise errors.file_not_found(file_id)
        return FileContent(file.filename, file.bytes, self.blobs.read(file_id))

    def purge_expired(self) -> None:
        """Reclaim the bytes of Files that expired (they are already invisible). Best
        effort, bytes first: on a full disk the record stays and is tombstoned later."""
        purge_gone(self, FILE)


def purge_gone(part: Part, kind: str) -> None:
    """Delete the bytes of the objects of `kind` whose time ran out, then tombstone them so
    that they are not looked at again. Runs lazily (start-up, creating and listing)."""
    for key in part.store.gone(kind, part.now()):
        part.blobs.discard(key)  # the bytes are freed on a disk thread
        try:
            part.store.delete(kind, key)
        except Exception:  # a full disk: the bytes are gone, the record can wait
            log.debug("could not tombstone expired %s %s", kind, key, exc_info=True)
            return


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


def _readable(doc: dict[str, Any]) -> FileRecord | None:
    """The stored file, or None (logged) for a row damaged or edited by hand: skipped as the
    store skips a body that is not JSON, so that one bad row does not make every list a 500."""
    try:
        return FileRecord.from_doc(doc)
    except ValueError as exc:
        log.warning("skipping an unreadable stored file: %s", exc)
        return None
