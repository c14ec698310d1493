"""The deterministic queue of a concurrency limit, with plain plans: who gets a slot, when,
and how interventions move the jobs queued after them."""

from __future__ import annotations

from mockft import lifecycle
from mockft.lifecycle import NEVER, Intervention, JobContext, TrainingStats
from mockft.queueing import Entry, LimitChange, Wait, queue_interventions, schedule

HYPER = lifecycle.Hyperparameters(n_epochs=1, batch_size=1, learning_rate_multiplier=1.0)


def entry(job_id: str, created_at: int, *interventions: Intervention, seed: int = 1) -> Entry:
    plan = lifecycle.plan_job(
        created_at=created_at,
        stats=TrainingStats(n_examples=10, billable_tokens=1000),
        hyperparameters=HYPER,
        seed=seed,
    )
    ctx = JobContext(job_id, "file-t", None, f"ft:model::{job_id}", created_at)
    return Entry(job_id, plan, tuple(interventions), ctx)


def one(limit: int | None) -> list[LimitChange]:
    return [LimitChange(0, limit)]


def end_of(job: Entry, wait: Wait | None) -> int:
    return lifecycle.slot_end(job.plan, job.interventions + queue_interventions(wait), job.ctx)


def test_without_a_limit_nobody_waits() -> None:
    jobs = [entry(f"j{i}", 0) for i in range(5)]
    assert schedule(jobs, one(None)) == {}


def test_a_job_waits_for_the_slot_of_the_one_before_it() -> None:
    first, second = entry("a", 0), entry("b", 0)
    waits = schedule([first, second], one(1))
    assert set(waits) == {"b"}
    assert waits["b"] == Wait(second.plan.started_at, first.plan.finished_at)
    assert end_of(second, waits["b"]) == first.plan.finished_at + (
        second.plan.finished_at - second.plan.started_at
    )


def test_slots_go_to_waiting_jobs_in_creation_order() -> None:
    a, b, c = entry("a", 0), entry("b", 1, seed=7), entry("c", 2, seed=17)
    # both wait for a, and c is ready first; b was created first
    assert a.plan.started_at < c.plan.started_at < b.plan.started_at < a.plan.finished_at
    waits = schedule([a, b, c], one(1))
    assert waits["b"].start == a.plan.finished_at
    assert waits["c"].start == end_of(b, waits["b"])


def test_a_free_slot_goes_to_the_job_that_is_ready() -> None:
    a, b, c = entry("a", 0), entry("b", 10, seed=2), entry("c", 11, seed=3)
    # c is ready while the slot is free: it does not wait for a and b, created before it
    assert c.plan.started_at < min(a.plan.started_at, b.plan.started_at)
    waits = schedule([a, b, c], one(1))
    assert "c" not in waits
    assert waits["a"].start == c.plan.finished_at  # then a, the first created
    assert waits["b"].start == end_of(a, waits["a"])


def test_a_job_held_before_it_is_ready_is_not_in_the_queue() -> None:
    plain = entry("slow", 0)
    held = entry("slow", 0, Intervention(plain.plan.validated_at - 1, lifecycle.HOLD))
    quick = entry("quick", 5, seed=4)
    assert schedule([held, quick], one(1)) == {}  # held with no end in sight: never ready


def test_cancelling_the_running_job_frees_its_slot_at_that_instant() -> None:
    first = entry("a", 0)
    cancel_at = first.plan.started_at + 10
    cancelled = entry("a", 0, Intervention(cancel_at, lifecycle.CANCEL))
    waits = schedule([cancelled, entry("b", 0)], one(1))
    assert waits["b"].start == cancel_at


def test_completing_early_frees_the_slot_at_once() -> None:
    first = entry("a", 0)
    done_at = first.plan.started_at + 5
    waits = schedule(
        [entry("a", 0, Intervention(done_at, lifecycle.COMPLETE)), entry("b", 0)], one(1)
    )
    assert waits["b"].start == done_at


def test_a_paused_job_keeps_its_slot_and_resuming_moves_the_queue() -> None:
    first = entry("a", 0)
    pause_at = first.plan.started_at + 5
    paused = entry("a", 0, Intervention(pause_at, lifecycle.PAUSE))
    waits = schedule([paused, entry("b", 0)], one(1))
    assert waits["b"].start == NEVER  # waits as long as the pause lasts
    resumed = entry(
        "a",
        0,
        Intervention(pause_at, lifecycle.PAUSE),
        Intervention(pause_at + 100, lifecycle.RESUME),
    )
    waits = schedule([resumed, entry("b", 0)], one(1))
    assert waits["b"].start == first.plan.finished_at + 100


def test_a_job_cancelled_while_it_waits_takes_no_slot() -> None:
    a, b, c = entry("a", 0), entry("b", 0, seed=5), entry("c", 0, seed=12)
    assert a.plan.started_at < b.plan.started_at + 1 < c.plan.started_at < a.plan.finished_at
    gone = entry("b", 0, Intervention(b.plan.started_at + 1, lifecycle.CANCEL), seed=5)
    waits = schedule([a, gone, c], one(1))
    assert waits["c"].start == a.plan.finished_at  # b's turn passes to c
    assert end_of(gone, waits["b"]) == b.plan.started_at + 1


def test_a_failed_validation_needs_no_slot() -> None:
    failed = entry("a", 0)
    failed = Entry(
        "a",
        lifecycle.plan_job(
            created_at=0,
            stats=TrainingStats(0, 0),
            hyperparameters=HYPER,
            seed=1,
            validation_error=lifecycle.JobError("invalid_n_examples", "few"),
        ),
        (),
        failed.ctx,
    )
    assert schedule([failed, entry("b", 0)], one(1)) == {}


def test_a_raised_limit_takes_effect_when_it_is_raised() -> None:
    a, b = entry("a", 0), entry("b", 0)
    raised_at = b.plan.started_at + 30
    waits = schedule([a, b], [LimitChange(0, 1), LimitChange(raised_at, 2)])
    assert waits["b"] == Wait(b.plan.started_at, raised_at)


def test_a_lowered_limit_takes_no_slot_away() -> None:
    a, b, c = entry("a", 0), entry("b", 0, seed=7), entry("c", 0, seed=8)
    lowered_at = max(a.plan.started_at, b.plan.started_at) + 1
    waits = schedule([a, b, c], [LimitChange(0, 2), LimitChange(lowered_at, 1)])
    assert "a" not in waits and "b" not in waits
    # c waits until fewer than one job runs: both a and b have ended
    assert waits["c"].start == max(a.plan.finished_at, b.plan.finished_at)


def test_the_waits_of_earlier_instants_never_change_with_what_comes_later() -> None:
    a, b = entry("a", 0), entry("b", 0)
    before = schedule([a, b], one(1))
    # a job created later, and a cancel of b after it started, change nothing before them
    cancel = Intervention(before["b"].start + 3, lifecycle.CANCEL)
    after = schedule([a, entry("b", 0, cancel), entry("c", before["b"].start)], one(1))
    assert after["b"] == before["b"]


def test_a_limit_set_at_the_instant_a_job_starts_comes_after_the_start() -> None:
    a, b = entry("a", 0), entry("b", 0, seed=5)
    assert a.plan.started_at < b.plan.started_at < a.plan.finished_at
    at_start = [LimitChange(0, None), LimitChange(b.plan.started_at, 1)]
    assert schedule([a, b], at_start) == {}  # b started at that instant, before the change
    before = [LimitChange(0, None), LimitChange(b.plan.started_at - 1, 1)]
    assert schedule([a, b], before)["b"].start == a.plan.finished_at
