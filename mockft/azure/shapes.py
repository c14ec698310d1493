"""Azure's view of the service's objects. PURE.

The objects are the service's own (a job made through Azure's paths is the same job on
`/v1`); Azure's clients see them with a few differences, each cited in docs/fidelity.md:

- Files are imported after upload: `status` is `pending` until the import ends, then
  `processed`, a function of the clock and the file's size (both data planes). Files the
  service makes itself (a job's results) are processed at once.
- On the classic (dated `api-version`) data plane a job reads as Azure writes it: `pending`
  while OpenAI would say `validating_files` or `queued`, hyperparameters not yet chosen as
  `-1` (epochs, batch size) and `1` (learning-rate multiplier) instead of `"auto"`,
  `organization_id` null, `result_files` and `integrations` null while empty. The v1 data
  plane answers in OpenAI's shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FILE_OBJECT = "file"
UPLOAD_OBJECT = "upload"
JOB_OBJECT = "fine_tuning.job"
LIST_OBJECT = "list"
PENDING = "pending"
PROCESSED = "processed"
IMPORT_BASE_SECONDS = 15
IMPORT_BYTES_PER_SECOND = 1_000_000
GENERATED_PURPOSES = frozenset({"fine-tune-results"})

PENDING_JOB_STATES = frozenset({"validating_files", "queued"})
AUTO = "auto"
AUTO_HYPERPARAMETERS: Mapping[str, int] = {
    "n_epochs": -1,
    "batch_size": -1,
    "learning_rate_multiplier": 1,
}

Body = dict[str, Any]


def import_seconds(size: int) -> int:
    """How long Azure takes to import an uploaded file of `size` bytes."""
    return IMPORT_BASE_SECONDS + size // IMPORT_BYTES_PER_SECOND


def file_status(file: Mapping[str, Any], now: int) -> str:
    if file.get("purpose") in GENERATED_PURPOSES:
        return PROCESSED
    ready_at = int(file["created_at"]) + import_seconds(int(file["bytes"]))
    return PROCESSED if now >= ready_at else PENDING


def file_view(file: Body, now: int) -> Body:
    if "deleted" in file or "created_at" not in file:  # a deletion receipt
        return file
    return {**file, "status": file_status(file, now)}


def upload_view(upload: Body, now: int) -> Body:
    nested = upload.get("file")
    if isinstance(nested, dict):
        return {**upload, "file": file_view(nested, now)}
    return upload


def job_view(job: Body) -> Body:
    """A job as the classic data plane shows it."""
    view = dict(job)
    if view.get("status") in PENDING_JOB_STATES:
        view["status"] = PENDING
    hyperparameters = view.get("hyperparameters")
    if isinstance(hyperparameters, dict):
        view["hyperparameters"] = {
            name: AUTO_HYPERPARAMETERS.get(name, value) if value == AUTO else value
            for name, value in hyperparameters.items()
        }
    view["organization_id"] = None
    view["error"] = view.get("error") or None  # OpenAI writes {} for no error, Azure null
    view["result_files"] = view.get("result_files") or None
    view["integrations"] = view.get("integrations") or None
    return view


def reshape(body: Any, now: int, *, classic: bool) -> Any:
    """Azure's view of a JSON response body of the service (an object or a list of them);
    anything else is returned unchanged."""
    if not isinstance(body, dict):
        return body
    kind = body.get("object")
    if kind == LIST_OBJECT and isinstance(body.get("data"), list):
        return {**body, "data": [reshape(item, now, classic=classic) for item in body["data"]]}
    if kind == FILE_OBJECT:
        return file_view(body, now)
    if kind == UPLOAD_OBJECT:
        return upload_view(body, now)
    if kind == JOB_OBJECT and classic:
        return job_view(body)
    return body
