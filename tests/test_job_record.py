"""The stored form of a job: written whole, read back equal, and older forms still read."""

from __future__ import annotations

from typing import Any

from mockft.job_record import JobRecord, Outcome
from mockft.lifecycle import Intervention, JobError, RequestedHyperparameters, TrainingStats

# A job as mockft stored it before validation ran off the event loop (validated at creation:
# "stats" and "validation_error" at the top, "method" null for a plain supervised job).
OLD_DOC: dict[str, Any] = {
    "object": "fine_tuning.job",
    "id": "ftjob-old",
    "model": "gpt-4o-mini-2024-07-18",
    "created_at": 1_700_000_000,
    "organization_id": "org-x",
    "training_file": "file-t",
    "validation_file": None,
    "user_provided_suffix": None,
    "seed": 3,
    "integrations": [],
    "metadata": {"k": "v"},
    "method_type": "supervised",
    "method": None,
    "requested_hyperparameters": {
        "n_epochs": 2,
        "batch_size": "auto",
        "learning_rate_multiplier": "auto",
    },
    "stats": {
        "n_examples": 12,
        "billable_tokens": 900,
        "n_validation_examples": 0,
        "warnings": ["w"],
    },
    "validation_error": None,
    "fine_tuned_model_name": "ft:gpt-4o-mini-2024-07-18:org::AbCd1234",
    "base_snapshot": "gpt-4o-mini-2024-07-18",
    "interventions": [
        {"at": 1_700_000_100, "kind": "fail", "error": {"code": "c", "message": "m", "param": None}}
    ],
    "result_files": [],
    "materialized": False,
}


def test_an_older_stored_job_reads_as_validated_with_its_outcome() -> None:
    record = JobRecord.from_doc(OLD_DOC)

    assert record.outcome == Outcome(TrainingStats(12, 900, 0, ("w",)), None)
    assert record.method == {"type": "supervised"}
    assert record.requested == RequestedHyperparameters(n_epochs=2)
    assert record.interventions == (Intervention(1_700_000_100, "fail", JobError("c", "m", None)),)
    assert record.context.created_at == 1_700_000_000


def test_a_record_reads_back_equal_and_keeps_what_other_readers_use() -> None:
    record = JobRecord.from_doc(OLD_DOC)
    doc = record.to_doc()

    assert JobRecord.from_doc(doc) == record
    # inference finds a model's training file here; the job list filters on metadata
    assert (doc["training_file"], doc["metadata"]) == ("file-t", {"k": "v"})
    pending = JobRecord.from_doc({**doc, "outcome": None})
    assert pending.outcome is None


def test_the_service_serves_an_older_stored_job() -> None:
    from mockft.config import Settings
    from mockft.service import Service
    from mockft.service.jobs import JOB
    from mockft.wire import jobs as wire

    service = Service.open(Settings(memory=True, clock="manual", start_time=1_700_000_005))
    org = service.keys.default
    service.store.insert(JOB, "ftjob-old", org.id, {**OLD_DOC, "organization_id": org.id})
    try:
        body = wire.job(service.jobs.get(org, "ftjob-old"))
        assert (body["status"], body["error"]) == ("validating_files", {})
        service.clock.advance(200)
        failed = wire.job(service.jobs.get(org, "ftjob-old"))
        assert (failed["status"], failed["error"]["message"]) == ("failed", "m")
    finally:
        service.close()
