"""The pure pieces webhook delivery stands on: Standard Webhooks signatures (checked against
the specification's own example) and `lifecycle.ending`, the instant a job's timeline ends,
which the jobs keep as a timer so that finding the jobs that ended is no scan."""

from __future__ import annotations

import pytest

from mockft import lifecycle as lc
from mockft import webhook_signing as signing
from mockft.lifecycle import Hyperparameters, Intervention, JobContext, JobError, TrainingStats

# The example of the Standard Webhooks specification (and Svix's documentation): this secret,
# message id, timestamp and body give this signature.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_of_the_specifications_example() -> None:
    assert signing.signature(SECRET, MESSAGE_ID, TIMESTAMP, BODY) == SIGNATURE
    headers = signing.headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    assert headers == {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": SIGNATURE,
    }


def test_verify_accepts_the_signed_body_only_within_the_tolerance() -> None:
    headers = signing.headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    assert signing.verify(SECRET, headers, BODY, now=TIMESTAMP + 299)
    assert not signing.verify(SECRET, headers, BODY, now=TIMESTAMP + 301)
    assert not signing.verify(SECRET, headers, BODY + b" ", now=TIMESTAMP)
    assert not signing.verify(signing.new_secret(b"other"), headers, BODY, now=TIMESTAMP)
    several = {**headers, "webhook-signature": "v1,bm90IGl0 " + SIGNATURE}  # any may match
    assert signing.verify(SECRET, several, BODY, now=TIMESTAMP)
    assert not signing.verify(SECRET, {"webhook-id": MESSAGE_ID}, BODY, now=TIMESTAMP)


@pytest.mark.parametrize(
    ("secret", "ok"),
    [
        (SECRET, True),
        (signing.new_secret(bytes(32)), True),
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", False),  # no prefix
        ("whsec_", False),  # no bytes
        ("whsec_not base64!", False),
        ("whsec_" + "A" * 2000, False),  # too long
    ],
)
def test_what_a_secret_is(secret: str, ok: bool) -> None:
    assert signing.secret_ok(secret) is ok


# --- lifecycle.ending ----------------------------------------------------------------------

T0 = 1_700_000_000
CTX = JobContext("ftjob-end", "file-train", None, "ft:gpt-4o-mini-2024-07-18:org::x", T0)


def plan(error: JobError | None = None) -> lc.JobPlan:
    return lc.plan_job(
        created_at=T0,
        stats=TrainingStats(10, 2_000, 0),
        hyperparameters=Hyperparameters(3, 1, 2.0),
        seed=1,
        validation_error=error,
    )


def test_a_job_ends_when_its_plan_says() -> None:
    p = plan()
    assert lc.ending(p, (), CTX) == lc.Ending(lc.SUCCEEDED, p.finished_at)
    assert lc.snapshot(p, (), p.finished_at, CTX).status == lc.SUCCEEDED
    assert lc.snapshot(p, (), p.finished_at - 1, CTX).status != lc.SUCCEEDED


def test_a_job_whose_files_fail_ends_with_validation() -> None:
    p = plan(JobError("invalid_n_examples", "too few", "training_file"))
    assert lc.ending(p, (), CTX) == lc.Ending(lc.FAILED, p.validated_at)


def test_interventions_move_or_take_away_the_end() -> None:
    p = plan()
    during = p.started_at + 5
    cancelled = (Intervention(during, lc.CANCEL),)
    assert lc.ending(p, cancelled, CTX) == lc.Ending(lc.CANCELLED, during)
    failing = (Intervention(during, lc.FAIL, None, p.step_time(3)),)  # armed for step 3
    assert lc.ending(p, failing, CTX) == lc.Ending(lc.FAILED, p.step_time(3))
    paused = (Intervention(during, lc.PAUSE),)
    assert lc.ending(p, paused, CTX) is None  # it does not end by itself
    resumed = (*paused, Intervention(during + 100, lc.RESUME))
    assert lc.ending(p, resumed, CTX) == lc.Ending(lc.SUCCEEDED, p.finished_at + 100)
    completed = (Intervention(during, lc.COMPLETE),)
    assert lc.ending(p, completed, CTX) == lc.Ending(lc.SUCCEEDED, during)


def test_before_its_files_are_validated_the_end_is_looked_for_later() -> None:
    assert lc.ending(None, (), CTX) == lc.Ending(None, lc.outcome_instant(T0))
    held = (Intervention(T0 + 1, lc.HOLD),)
    assert lc.ending(None, held, CTX) is None
    cancelled = (Intervention(T0 + 1, lc.CANCEL),)
    assert lc.ending(None, cancelled, CTX) == lc.Ending(lc.CANCELLED, T0 + 1)
