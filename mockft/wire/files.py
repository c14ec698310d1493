"""Files, Uploads and Upload parts: the records the service keeps, and each object as the
API writes it (field order and the fields left out as the real API does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FILE_OBJECT = "file"
UPLOAD_OBJECT = "upload"
PART_OBJECT = "upload.part"
PROCESSED = "processed"
PENDING = "pending"
COMPLETED = "completed"
CANCELLED = "cancelled"
EXPIRED = "expired"


def _check_types(
    kind: str, doc: dict[str, Any], texts: tuple[object, ...], numbers: tuple[object, ...]
) -> None:
    """`ValueError` unless each of `texts` is a string and each of `numbers` an integer (a
    stored row damaged or edited by hand)."""
    if not all(type(v) is str for v in texts) or not all(type(v) is int for v in numbers):
        raise ValueError(f"a stored {kind} with a field of the wrong type: {doc!r:.200}")


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    purpose: str
    filename: str
    bytes: int
    created_at: int
    expires_at: int | None = None
    status: str = PROCESSED

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FileRecord:
        """The stored file (`ValueError` if a field is missing or of the wrong type: a row
        damaged or edited by hand)."""
        try:
            record = cls(
                id=doc["id"],
                purpose=doc["purpose"],
                filename=doc["filename"],
                bytes=doc["bytes"],
                created_at=doc["created_at"],
                expires_at=doc.get("expires_at"),
                status=doc.get("status", PROCESSED),
            )
        except KeyError as exc:
            raise ValueError(f"a stored file without {exc}") from None
        numbers = (record.bytes, record.created_at, record.expires_at or 0)
        _check_types(
            "file", doc, (record.id, record.purpose, record.filename, record.status), numbers
        )
        return record


def file_object(file: FileRecord) -> dict[str, Any]:
    """In the real API's order, with `expires_at` null for a file that does not expire and
    `status_details` always null: every file object captured in 2025 has both, the older
    ones `status_details` alone (docs/fidelity.md "Files"), although the OpenAPI
    description types both as non-nullable."""
    return {
        "object": FILE_OBJECT,
        "id": file.id,
        "purpose": file.purpose,
        "filename": file.filename,
        "bytes": file.bytes,
        "created_at": file.created_at,
        "expires_at": file.expires_at,
        "status": file.status,
        "status_details": None,
    }


@dataclass(frozen=True, slots=True)
class UploadRecord:
    id: str
    purpose: str
    filename: str
    bytes: int
    created_at: int
    expires_at: int
    status: str = PENDING
    file: FileRecord | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any], status: str | None = None) -> UploadRecord:
        """The stored upload (`ValueError` if a field is missing or of the wrong type: a
        row damaged or edited by hand)."""
        file = doc.get("file")
        if file is not None and not isinstance(file, dict):
            raise ValueError(f"a stored upload with a file of the wrong type: {doc!r:.200}")
        try:
            record = cls(
                id=doc["id"],
                purpose=doc["purpose"],
                filename=doc["filename"],
                bytes=doc["bytes"],
                created_at=doc["created_at"],
                expires_at=doc["expires_at"],
                status=status or doc["status"],
                file=FileRecord.from_doc(file) if file else None,
            )
        except KeyError as exc:
            raise ValueError(f"a stored upload without {exc}") from None
        numbers = (record.bytes, record.created_at, record.expires_at)
        _check_types(
            "upload", doc, (record.id, record.purpose, record.filename, record.status), numbers
        )
        return record


def upload_object(upload: UploadRecord) -> dict[str, Any]:
    """`file` once the upload is completed (the File it became), absent before."""
    body: dict[str, Any] = {
        "object": UPLOAD_OBJECT,
        "id": upload.id,
        "purpose": upload.purpose,
        "filename": upload.filename,
        "bytes": upload.bytes,
        "created_at": upload.created_at,
        "expires_at": upload.expires_at,
        "status": upload.status,
    }
    if upload.status == COMPLETED or upload.file is not None:
        body["file"] = file_object(upload.file) if upload.file else None
    return body


@dataclass(frozen=True, slots=True)
class PartRecord:
    id: str
    created_at: int
    upload_id: str


def part_object(part: PartRecord) -> dict[str, Any]:
    return {
        "object": PART_OBJECT,
        "id": part.id,
        "created_at": part.created_at,
        "upload_id": part.upload_id,
    }
