"""Uploads: a large file sent in parts, assembled in the order the client names.

An Upload takes parts for an hour (the real API's expiry); then its parts' bytes are
reclaimed, lazily: when uploads are created or completed and at start-up, whichever comes
first after the hour (a part row carries the instant it stops existing). Completing is
one transaction (the File, the Upload's `completed` status with its File, the parts'
tombstones), so a crash leaves either no File or a completed Upload that names it, and a
retried completion answers with the same File.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from mockft import errors
from mockft.auth import Organization
from mockft.schemas import CompleteUpload, CreateUpload, ExpiresAfter
from mockft.service.context import Context, Part
from mockft.service.files import (
    Files,
    check_filename,
    check_fine_tune_name,
    committing,
    purge_gone,
)
from mockft.service.work import Pending, Work
from mockft.store import BlobWriter, disk
from mockft.wire.files import (
    CANCELLED,
    COMPLETED,
    EXPIRED,
    PENDING,
    PartRecord,
    UploadRecord,
    file_object,
    part_object,
    upload_object,
)

UPLOAD = "upload"
PART = "upload_part"
UPLOAD_PREFIX = "upload_"
PART_PREFIX = "part_"
UPLOAD_TTL_SECONDS = 3600
MAX_UPLOAD_BYTES = 8 * 1024**3
MAX_PART_BYTES = 64 * 1024**2


log = logging.getLogger("mockft")


class Uploads(Part):
    def __init__(self, ctx: Context, files: Files, work: Work) -> None:
        super().__init__(ctx)
        self.files = files
        self.work = work  # a completion's checksum (a GB of parts to read) runs there

    def create(self, org: Organization, request: CreateUpload) -> UploadRecord:
        if request.bytes > MAX_UPLOAD_BYTES:
            raise errors.above_maximum("bytes", MAX_UPLOAD_BYTES, request.bytes)
        check_filename(request.filename, "filename")
        check_fine_tune_name(request.filename, request.purpose, "filename")
        self.purge_expired()
        now = self.now()
        upload = UploadRecord(
            id=self.new_id(UPLOAD_PREFIX),
            purpose=request.purpose,
            filename=request.filename,
            bytes=request.bytes,
            created_at=now,
            expires_at=now + UPLOAD_TTL_SECONDS,
        )
        doc = upload_object(upload)
        doc["expires_after"] = request.expires_after.model_dump() if request.expires_after else None
        self.store.insert(UPLOAD, upload.id, org.id, doc)
        return upload

    def _upload_doc(self, org: Organization, upload_id: str) -> tuple[dict[str, Any], str]:
        """The stored upload and its status now (a pending upload past its hour is
        expired, and its parts' bytes are reclaimed)."""
        doc = _readable(self.store.get(UPLOAD, upload_id, org.id, self.now()))
        if doc is None:
            raise errors.upload_not_found(upload_id)
        status: str = doc["status"]
        if status == PENDING and self.now() >= doc["expires_at"]:
            status = EXPIRED
            self.purge_expired()
        return doc, status

    def _pending_upload(self, org: Organization, upload_id: str) -> dict[str, Any]:
        doc, status = self._upload_doc(org, upload_id)
        if status != PENDING:
            raise _not_pending(upload_id, status)
        return doc

    def reserve_part(self, org: Organization, upload_id: str) -> str:
        """Before streaming a part: the upload exists and takes parts. Returns a part id."""
        self._pending_upload(org, upload_id)
        return self.new_id(PART_PREFIX)

    def part_too_large(self, read: int) -> errors.APIError:
        return errors.invalid(
            f"Part exceeds the maximum part size of {MAX_PART_BYTES} bytes (64 MB).", "data"
        )

    def add_part(
        self, org: Organization, upload_id: str, part_id: str, writer: BlobWriter
    ) -> PartRecord:
        """Commit the bytes streamed into `writer` as a part of the upload. The part stops
        existing when the upload expires, unless the upload is completed first."""
        with committing(writer):
            doc = self._pending_upload(org, upload_id)
        part = PartRecord(id=part_id, created_at=self.now(), upload_id=upload_id)
        stored = part_object(part)
        stored["size"] = writer.size
        self.store.insert(PART, part_id, org.id, stored, tag=upload_id, gone_at=doc["expires_at"])
        return part

    def complete(self, org: Organization, upload_id: str, request: CompleteUpload) -> UploadRecord:
        doc, status = self._upload_doc(org, upload_id)
        if status == COMPLETED and self._same_completion(doc, request):
            return UploadRecord.from_doc(doc)  # a retry: the same File
        if status != PENDING:
            raise _not_pending(upload_id, status)
        parts = {p["id"]: p for p in self.store.scan(PART, org.id, self.now(), tag=upload_id)}
        for part_id in request.part_ids:
            if part_id not in parts:
                raise errors.invalid(
                    f"Part {errors.excerpt(part_id)} does not belong to upload {upload_id}.",
                    "part_ids",
                )
        if len(set(request.part_ids)) != len(request.part_ids):
            raise errors.invalid("part_ids must not contain duplicates.", "part_ids")
        total = sum(parts[p]["size"] for p in request.part_ids)
        if total != doc["bytes"]:
            raise errors.invalid(
                f"The number of bytes uploaded upon completion ({total}) does not match the "
                f"number of bytes specified when the upload was created ({doc['bytes']}).",
                "part_ids",
            )
        # Work off the event loop, kept under these keys until the completion is over (it
        # runs again when work it waits for is done).
        part_ids = list(request.part_ids)
        checksum = "md5:" + upload_id + ":" + ",".join(part_ids)
        composing = "compose:" + upload_id + ":" + ",".join(part_ids)
        md5: str | None = None
        if request.md5 is not None:  # read the parts only when there is a checksum to compare
            md5 = self.work.outcome(checksum, lambda: _md5(self.blobs.read(p) for p in part_ids))
            if md5 != request.md5.lower():
                self.work.forget(checksum)
                raise _md5_mismatch()
        try:
            file_id = self._composed(composing, part_ids, doc["purpose"])
        except Pending:
            raise
        except BaseException:
            self.work.forget(checksum)
            raise
        try:
            completed = self._commit_completion(org, upload_id, file_id, total, request, md5)
        except BaseException:
            self.blobs.discard(file_id)
            raise
        finally:
            self.work.forget(composing)
            self.work.forget(checksum)
        if completed["file"]["id"] != file_id:  # another completion won the race
            self.blobs.discard(file_id)
            if not self._same_completion(completed, request):
                raise _not_pending(upload_id, COMPLETED)
        for part_id in parts:  # their names (the File links their bytes), on a disk thread
            self.blobs.discard(part_id)
        return UploadRecord.from_doc(completed)

    def _composed(self, key: str, part_ids: list[str], purpose: str) -> str:
        """A new File's id, its bytes the parts' (linked, not copied) and checked as the
        Files API checks an upload, by a disk thread: a directory and a name per part, each
        of which waits for the filesystem's journal, behind whatever the disk is writing.
        The id is taken once, by the call that starts the composing: a completion run again
        while it is under way takes no second id."""
        file_id = "" if self.work.running(key) else self.files.new_file_id()

        def compose() -> str:
            self.blobs.compose(file_id, part_ids)
            self.files.check_content(file_id, purpose)  # (bytes that fail are discarded)
            return file_id

        return self.work.outcome(key, compose, disk.submit)

    def _commit_completion(
        self,
        org: Organization,
        upload_id: str,
        file_id: str,
        total: int,
        request: CompleteUpload,
        md5: str | None,
    ) -> dict[str, Any]:
        """The File, the completed Upload naming it, and the parts' tombstones: together or
        not at all. Returns the stored upload (completed by this call or, if another
        completion committed first, by that one)."""
        with self.store.transaction():
            doc = _readable(self.store.get(UPLOAD, upload_id, org.id, self.now()))
            if doc is None:
                raise errors.upload_not_found(upload_id)
            if doc["status"] == COMPLETED:
                return doc
            expires_after = doc.get("expires_after")
            file = self.files.store_file(
                org,
                file_id,
                doc["filename"],
                doc["purpose"],
                total,
                ExpiresAfter.model_validate(expires_after) if expires_after else None,
            )
            doc.update(status=COMPLETED, file=file_object(file))
            doc.update(part_ids=list(request.part_ids), md5=md5)
            self.store.update(UPLOAD, upload_id, doc)
            for part in self.store.scan(PART, org.id, self.now(), tag=upload_id):
                self.store.delete(PART, part["id"])
        return doc

    def _same_completion(self, doc: dict[str, Any], request: CompleteUpload) -> bool:
        """Whether `request` asks for the completion `doc` already had: the same parts in
        the same order, and (if it names one) the same checksum."""
        if doc.get("part_ids") != list(request.part_ids):
            return False
        if request.md5 is None:
            return True
        stored = doc.get("md5")
        if stored is None:
            stored = _md5([self.blobs.read(doc["file"]["id"])])
        if stored != request.md5.lower():
            raise _md5_mismatch()
        return True

    def cancel(self, org: Organization, upload_id: str) -> UploadRecord:
        doc = self._pending_upload(org, upload_id)
        doc["status"] = CANCELLED
        parts = [p["id"] for p in self.store.scan(PART, org.id, self.now(), tag=upload_id)]
        with self.store.transaction():
            self.store.update(UPLOAD, upload_id, doc)
            for part_id in parts:
                self.store.delete(PART, part_id)
        for part_id in parts:  # their bytes are freed on a disk thread
            self.blobs.discard(part_id)
        return UploadRecord.from_doc(doc)

    def purge_expired(self) -> None:
        """Reclaim the bytes of the parts of uploads whose hour is over."""
        purge_gone(self, PART)


def _readable(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored upload, or None (logged) for a row damaged or edited by hand: the 404 of
    an upload that does not exist, as a damaged file or job is, rather than a message made
    of whatever the row holds."""
    if doc is None:
        return None
    try:
        UploadRecord.from_doc(doc)
    except ValueError as exc:
        log.warning("skipping an unreadable stored upload: %s", exc)
        return None
    return doc


def _not_pending(upload_id: str, status: str) -> errors.APIError:
    return errors.invalid(f"Cannot modify upload {upload_id} because it is {status}.", "upload_id")


def _md5_mismatch() -> errors.APIError:
    return errors.invalid(
        "The md5 checksum of the uploaded parts does not match the one provided.", "md5"
    )


def _md5(blobs: Any) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for chunks in blobs:
        for chunk in chunks:
            digest.update(chunk)
    return digest.hexdigest()
