"""Uploads: a large file sent in parts, assembled in the order the client names."""

from __future__ import annotations

import hashlib
from typing import Any

from mockft import errors
from mockft.auth import Organization
from mockft.multipart import MultipartForm
from mockft.schemas import CompleteUpload, CreateUpload, ExpiresAfter, UploadObject, UploadPart
from mockft.service.context import Context, Part
from mockft.service.files import FINE_TUNE_EXTENSION, Files

UPLOAD = "upload"
PART = "upload_part"
UPLOAD_PREFIX = "upload_"
PART_PREFIX = "part_"
UPLOAD_TTL_SECONDS = 3600
MAX_UPLOAD_BYTES = 8 * 1024**3
MAX_PART_BYTES = 64 * 1024**2


class Uploads(Part):
    def __init__(self, ctx: Context, files: Files) -> None:
        super().__init__(ctx)
        self.files = files

    def create(self, org: Organization, request: CreateUpload) -> UploadObject:
        if request.bytes > MAX_UPLOAD_BYTES:
            raise errors.above_maximum("bytes", MAX_UPLOAD_BYTES, request.bytes)
        if request.purpose == "fine-tune" and not request.filename.endswith(FINE_TUNE_EXTENSION):
            raise errors.invalid(
                "Invalid file format for Fine-Tuning API. Must be .jsonl", "filename"
            )
        now = self.now()
        upload = UploadObject(
            id=self.new_id(UPLOAD_PREFIX),
            purpose=request.purpose,
            filename=request.filename,
            bytes=request.bytes,
            created_at=now,
            expires_at=now + UPLOAD_TTL_SECONDS,
        )
        doc = upload.model_dump()
        doc["expires_after"] = request.expires_after.model_dump() if request.expires_after else None
        self.store.insert(UPLOAD, upload.id, org.id, doc)
        return upload

    def _upload_doc(self, org: Organization, upload_id: str) -> dict[str, Any]:
        doc = self.store.get(UPLOAD, upload_id, org.id, self.now())
        if doc is None:
            raise errors.upload_not_found(upload_id)
        if doc["status"] == "pending" and self.now() >= doc["expires_at"]:
            doc["status"] = "expired"
        return doc

    @staticmethod
    def _upload(doc: dict[str, Any]) -> UploadObject:
        return UploadObject.model_validate({k: v for k, v in doc.items() if k != "expires_after"})

    def _pending_upload(self, org: Organization, upload_id: str) -> dict[str, Any]:
        doc = self._upload_doc(org, upload_id)
        if doc["status"] != "pending":
            raise errors.invalid(
                f"Cannot modify upload {upload_id} because it is {doc['status']}.", "upload_id"
            )
        return doc

    def reserve_part(self, org: Organization, upload_id: str) -> str:
        """Before streaming a part: the upload exists and takes parts. Returns a part id."""
        self._pending_upload(org, upload_id)
        return self.new_id(PART_PREFIX)

    def part_too_large(self) -> errors.APIError:
        return errors.invalid(
            f"Part exceeds the maximum part size of {MAX_PART_BYTES} bytes (64 MB).", "data"
        )

    def add_part(
        self, org: Organization, upload_id: str, part_id: str, form: MultipartForm
    ) -> UploadPart:
        with form.keeping_file():
            self._pending_upload(org, upload_id)
            extra = sorted(form.fields)
            if extra:
                raise errors.unknown_param(extra[0])
            if form.file is None:
                raise errors.missing_param("data")
        assert form.file is not None  # checked in the block above
        part = UploadPart(id=part_id, created_at=self.now(), upload_id=upload_id)
        doc = part.model_dump()
        doc["size"] = form.file.writer.size
        self.store.insert(PART, part_id, org.id, doc, tag=upload_id)
        return part

    def complete(self, org: Organization, upload_id: str, request: CompleteUpload) -> UploadObject:
        doc = self._pending_upload(org, upload_id)
        parts = {p["id"]: p for p in self.store.scan(PART, org.id, self.now(), tag=upload_id)}
        for part_id in request.part_ids:
            if part_id not in parts:
                raise errors.invalid(
                    f"Part {part_id} does not belong to upload {upload_id}.", "part_ids"
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
        if request.md5 is not None:  # read the parts only when there is a checksum to compare
            digest = hashlib.md5(usedforsecurity=False)
            for part_id in request.part_ids:
                for chunk in self.blobs.read(part_id):
                    digest.update(chunk)
            if digest.hexdigest() != request.md5.lower():
                raise errors.invalid(
                    "The md5 checksum of the uploaded parts does not match the one provided.",
                    "md5",
                )
        file_id = self.files.new_file_id()
        self.blobs.compose(file_id, request.part_ids)  # the parts' bytes, not a copy of them
        self.files.check_content(file_id, doc["purpose"])
        expires_after = doc.get("expires_after")
        file = self.files.store_file(
            org,
            file_id,
            doc["filename"],
            doc["purpose"],
            total,
            ExpiresAfter.model_validate(expires_after) if expires_after else None,
        )
        doc.update(status="completed", file=file.model_dump())
        self.store.update(UPLOAD, upload_id, doc)
        self._drop_parts(org, upload_id)
        return self._upload(doc)

    def cancel(self, org: Organization, upload_id: str) -> UploadObject:
        doc = self._pending_upload(org, upload_id)
        doc["status"] = "cancelled"
        self.store.update(UPLOAD, upload_id, doc)
        self._drop_parts(org, upload_id)
        return self._upload(doc)

    def _drop_parts(self, org: Organization, upload_id: str) -> None:
        for part in self.store.scan(PART, org.id, self.now(), tag=upload_id):
            self.store.delete(PART, part["id"])
            self.blobs.delete(part["id"])
