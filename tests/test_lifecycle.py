from __future__ import annotations

import pytest

from mockft import lifecycle as lc
from mockft import synth
from mockft.lifecycle import (
    Hyperparameters,
    Intervention,
    JobContext,
    JobError,
    JobPlan,
    JobSnapshot,
    RequestedHyperparameters,
    TrainingStats,
)

T0 = 1_700_000_000
MODEL = "ft:gpt-4o-mini-2024-07-18:my-org::AbCd1234"
CTX = JobContext(
    job_id="ftjob-abc",
    training_file="file-train",
    validation_file=None,
    fine_tuned_model=MODEL,
    created_at=T0,
)
CTX_WITH_VALIDATION = JobContext("ftjob-abc", "file-train", "file-valid", MODEL, T0)


def _plan(
    *,
    n_examples: int = 10,
    n_epochs: int = 3,
    batch_size: int = 1,
    tokens: int = 2_000,
    n_validation: int = 0,
    seed: int = 42,
    validation_error: JobError | None = None,
) -> JobPlan:
    return lc.plan_job(
        created_at=T0,
        stats=TrainingStats(n_examples, tokens, n_validation),
        hyperparameters=Hyperparameters(n_epochs, batch_size, 2.0),
        seed=seed,
        validation_error=validation_error,
    )


def _at(plan: JobPlan, now: int, *interventions: Intervention) -> JobSnapshot:
    return lc.snapshot(plan, interventions, now, CTX)


def _messages(snap: JobSnapshot) -> list[str]:
    return [e.message for e in snap.events if e.type == "message"]


def _step(plan: JobPlan, n: int) -> int:
    """The planned instant step `n` (1-based) ends."""
    return plan.step_time(n)


# --- hyperparameters ---------------------------------------------------------------------


def test_auto_epochs_follow_openais_published_heuristic() -> None:
    def epochs(n: int) -> int:
        return lc.resolve_hyperparameters(RequestedHyperparameters(), n).n_epochs

    assert epochs(10) == 10
    assert epochs(2) == 25  # capped at MAX_DEFAULT_EPOCHS
    assert epochs(100) == 3
    assert epochs(8_000) == 3
    assert epochs(10_000) == 2
    assert epochs(20_000) == 1


def test_auto_batch_size_grows_with_the_dataset_and_the_learning_rate_shrinks_with_it() -> None:
    def resolved(n: int) -> Hyperparameters:
        return lc.resolve_hyperparameters(RequestedHyperparameters(), n)

    assert (resolved(10).batch_size, resolved(10).learning_rate_multiplier) == (1, 2.0)
    assert (resolved(5_000).batch_size, resolved(5_000).learning_rate_multiplier) == (10, 1.8)
    assert (resolved(20_000).batch_size, resolved(20_000).learning_rate_multiplier) == (40, 1.0)
    assert resolved(1_000_000).batch_size == 256
    assert resolved(1_000_000).learning_rate_multiplier == 0.5


def test_explicit_hyperparameters_are_kept_and_drive_the_auto_learning_rate() -> None:
    requested = RequestedHyperparameters(n_epochs=7, batch_size=32, learning_rate_multiplier=0.3)
    assert lc.resolve_hyperparameters(requested, 10) == Hyperparameters(7, 32, 0.3)

    only_batch = RequestedHyperparameters(batch_size=32)
    assert lc.resolve_hyperparameters(only_batch, 10) == Hyperparameters(10, 32, 1.0)


def test_nonsense_hyperparameters_are_rejected() -> None:
    for bad in (
        RequestedHyperparameters(n_epochs=0),
        RequestedHyperparameters(batch_size="big"),
        RequestedHyperparameters(n_epochs=True),
        RequestedHyperparameters(learning_rate_multiplier=-1.0),
    ):
        with pytest.raises(ValueError):
            lc.resolve_hyperparameters(bad, 10)


# --- planning ----------------------------------------------------------------------------


def test_plan_counts_steps_tokens_and_keeps_phases_in_order() -> None:
    plan = _plan(n_examples=25, batch_size=4, n_epochs=2, tokens=5_000)

    assert plan.steps_per_epoch == 7  # ceil(25 / 4)
    steps = [_step(plan, n) for n in range(1, plan.total_steps + 1)]
    assert plan.total_steps == 14
    assert plan.trained_tokens == 10_000
    assert T0 < plan.resolved_at < plan.validated_at < plan.started_at < _step(plan, 1)
    assert steps == sorted(set(steps))
    assert _step(plan, plan.total_steps) < plan.finished_at


def test_a_small_job_takes_minutes_like_the_real_service() -> None:
    for seed in range(20):
        plan = _plan(n_examples=10, n_epochs=3, seed=seed)
        assert 15 <= plan.validated_at - T0 <= 60
        assert 20 <= plan.started_at - plan.validated_at <= 120
        assert 2 * 60 <= plan.finished_at - T0 <= 10 * 60


def test_bigger_files_validate_and_train_longer() -> None:
    small = _plan(n_examples=100, tokens=10_000)
    big = _plan(n_examples=100, tokens=300_000)

    assert big.validated_at - T0 > small.validated_at - T0
    assert _step(big, big.total_steps) - big.started_at > 1.5 * (
        _step(small, small.total_steps) - small.started_at
    )


def test_same_seed_same_plan_and_different_seed_different_timings() -> None:
    assert _plan(seed=1) == _plan(seed=1)
    assert _at(_plan(seed=1), T0 + 10_000) == _at(_plan(seed=1), T0 + 10_000)
    assert _plan(seed=1).started_at != _plan(seed=2).started_at


# --- a job left alone --------------------------------------------------------------------


def test_job_moves_through_states_at_plan_boundaries() -> None:
    plan = _plan()
    expectations = [
        (T0, "validating_files", 0),
        (plan.validated_at - 1, "validating_files", 0),
        (plan.validated_at, "queued", 0),
        (plan.started_at - 1, "queued", 0),
        (plan.started_at, "running", 0),
        (_step(plan, 1), "running", 1),
        (_step(plan, plan.total_steps), "running", 30),
        (plan.finished_at - 1, "running", 30),
        (plan.finished_at, "succeeded", 30),
        (plan.finished_at + 86_400, "succeeded", 30),
    ]
    for now, status, steps in expectations:
        snap = _at(plan, now)
        assert (now, snap.status, snap.steps_done) == (now, status, steps)


def test_model_tokens_and_finish_time_appear_only_once_succeeded() -> None:
    plan = _plan()
    running = _at(plan, _step(plan, 6))
    done = _at(plan, plan.finished_at)

    assert (running.fine_tuned_model, running.trained_tokens, running.finished_at) == (
        None,
        None,
        None,
    )
    assert running.expected_end == plan.finished_at
    assert _at(plan, plan.validated_at).expected_end == plan.finished_at
    assert _at(plan, T0).expected_end is None  # not known before validation's outcome
    assert (done.fine_tuned_model, done.trained_tokens, done.finished_at) == (
        MODEL,
        plan.trained_tokens,
        plan.finished_at,
    )
    assert done.expected_end is None and done.error is None


def test_successful_job_events_read_like_the_real_service() -> None:
    plan = _plan(n_examples=10, n_epochs=3)
    snap = _at(plan, plan.finished_at)

    steps = [f"Step {n}/30: training loss=" for n in range(1, 31)]
    expected_prefixes = [
        "Created fine-tuning job: ftjob-abc",
        "Validating training file: file-train",
        "Files validated, moving job to queued state",
        "Fine-tuning job started",
        *steps,
        "Checkpoint created at step 10 with Snapshot ID: ft:gpt-4o-mini-2024-07-18:my-org::",
        "Checkpoint created at step 20 with Snapshot ID: ft:gpt-4o-mini-2024-07-18:my-org::",
        f"New fine-tuned model created: {MODEL}",
        "The job has successfully completed",
    ]
    messages = [e.message for e in snap.events]
    assert len(messages) == len(expected_prefixes)
    assert all(m.startswith(p) for m, p in zip(messages, expected_prefixes, strict=True))
    assert [e.type for e in snap.events].count("metrics") == 30
    assert {e.level for e in snap.events} == {"info"}
    assert snap.events[0].created_at == T0
    assert snap.events[-1].created_at == plan.finished_at


def test_metrics_events_carry_the_synthesised_step_data() -> None:
    plan = _plan()
    event = [e for e in _at(plan, plan.finished_at).events if e.type == "metrics"][6]
    metrics = lc.metrics_for_step(plan, 7)

    assert event.id.startswith("ftevent-") and len(event.id) == 32
    assert event.created_at == _step(plan, 7)
    assert event.message == synth.metrics_event_message(metrics, 30)
    assert event.data == synth.metrics_event_data(metrics, 30)


def test_event_order_is_strict_with_unique_stable_ids_and_nondecreasing_times() -> None:
    plan = _plan()
    events = _at(plan, plan.finished_at).events

    assert len({e.id for e in events}) == len(events)
    assert all(e.id.startswith("ftevent-") and len(e.id) == 8 + 24 for e in events)
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)
    assert [events.position(e.id) for e in events] == list(range(len(events)))


def test_events_appear_only_once_they_have_happened_and_never_change() -> None:
    plan = _plan()
    final = _at(plan, plan.finished_at).events
    for now in (T0 - 1, T0, plan.validated_at, _step(plan, 15), plan.finished_at - 1):
        events = _at(plan, now).events
        assert all(e.created_at <= now for e in events)
        assert events == final[: len(events)]
        assert len(events) == sum(1 for e in final if e.created_at <= now)


def test_validation_file_is_named_and_validation_metrics_reported() -> None:
    plan = _plan(n_validation=5)
    snap = lc.snapshot(plan, (), plan.finished_at, CTX_WITH_VALIDATION)

    assert snap.events[1].message == (
        "Validating training file: file-train and validation file: file-valid"
    )
    metrics = [e for e in snap.events if e.type == "metrics"]
    evaluated = [e for e in metrics if e.data and e.data["step"] % 10 == 0]
    assert len(evaluated) == 3
    assert all(", validation loss=" in e.message for e in evaluated)
    assert all(e.data and "valid_loss" in e.data for e in evaluated)


def test_checkpoints_at_the_last_three_epoch_ends_with_their_metrics() -> None:
    plan = _plan(n_validation=5)
    checkpoints = lc.snapshot(plan, (), plan.finished_at, CTX_WITH_VALIDATION).checkpoints

    assert [c.step_number for c in checkpoints] == [10, 20, 30]
    assert [c.created_at for c in checkpoints] == [_step(plan, n) for n in (10, 20, 30)]
    first = checkpoints[0]
    assert first.id == synth.make_id("ftckpt_", "ftjob-abc", 10)
    assert first.fine_tuned_model_checkpoint.startswith("ft:gpt-4o-mini-2024-07-18:my-org::")
    assert first.fine_tuned_model_checkpoint.endswith(":ckpt-step-10")
    assert checkpoints[-1].fine_tuned_model_checkpoint == MODEL
    m = lc.metrics_for_step(plan, 10)
    assert first.metrics == {
        "step": 10,
        "train_loss": m.train_loss,
        "train_mean_token_accuracy": m.train_mean_token_accuracy,
        "valid_loss": m.valid_loss,
        "valid_mean_token_accuracy": m.valid_mean_token_accuracy,
    }
    without_validation = _at(_plan(), _plan().finished_at).checkpoints[0].metrics
    assert set(without_validation) == {"step", "train_loss", "train_mean_token_accuracy"}


def test_checkpoint_count_follows_epochs() -> None:
    assert _plan(n_epochs=10).checkpoint_steps == (80, 90, 100)
    assert _plan(n_epochs=2).checkpoint_steps == (10, 20)
    assert _plan(n_epochs=1).checkpoint_steps == (10,)
    midway = _plan(n_epochs=10)
    assert _at(midway, _step(midway, 90)).checkpoints == ()  # they come with the model


def test_huge_jobs_thin_out_metrics_events_but_keep_first_last_and_checkpoints() -> None:
    plan = _plan(n_examples=5_000, n_epochs=1, tokens=500_000)
    snap = _at(plan, plan.finished_at)
    metric_steps = [e.data["step"] for e in snap.events if e.type == "metrics"]

    assert plan.total_steps == 5_000 and plan.metrics_event_stride == 5
    assert len(metric_steps) <= lc.MAX_METRICS_EVENTS + 2
    assert metric_steps[:3] == [1, 5, 10] and metric_steps[-1] == 5_000
    assert snap.steps_done == 5_000


def test_result_csv_of_a_finished_job_has_one_row_per_step() -> None:
    plan = _plan()
    snap = _at(plan, plan.finished_at)
    csv = synth.result_csv(lc.metrics_through(plan, snap.steps_done))

    assert len(csv.decode().splitlines()) == 1 + 30
    assert csv == synth.result_csv(lc.metrics_through(_plan(), 30))
    assert csv != synth.result_csv(lc.metrics_through(_plan(seed=43), 30))


# --- interventions -----------------------------------------------------------------------


def test_pause_holds_steps_and_resume_shifts_the_finish_by_the_paused_duration() -> None:
    plan = _plan()
    paused_at = _step(plan, 12)
    resumed_at = paused_at + 600
    pause = Intervention(paused_at, "pause")
    resume = Intervention(resumed_at, "resume")

    held = _at(plan, resumed_at - 1, pause)
    assert (held.status, held.steps_done, held.expected_end) == ("paused", 12, None)
    assert _messages(held)[-1] == "Fine-tuning job paused"
    assert _at(plan, plan.finished_at + 10_000, pause).status == "paused"

    after = _at(plan, resumed_at, pause, resume)
    assert (after.status, after.steps_done) == ("running", 12)
    assert after.expected_end == plan.finished_at + 600
    assert _messages(after)[-1] == "Fine-tuning job resumed"

    nearly = _at(plan, plan.finished_at + 599, pause, resume)
    done = _at(plan, plan.finished_at + 600, pause, resume)
    assert nearly.status == "running"
    assert (done.status, done.finished_at, done.steps_done) == (
        "succeeded",
        plan.finished_at + 600,
        30,
    )
    step_13 = next(e for e in done.events if e.message.startswith("Step 13/30"))
    assert step_13.created_at == _step(plan, 13) + 600


def test_repeated_pauses_add_up() -> None:
    plan = _plan()
    first, second = _step(plan, 4), _step(plan, 21) + 100
    interventions = (
        Intervention(first, "pause"),
        Intervention(first + 100, "resume"),
        Intervention(second, "pause"),
        Intervention(second + 50, "resume"),
    )
    snap = _at(plan, plan.finished_at + 150, *interventions)

    assert (snap.status, snap.finished_at) == ("succeeded", plan.finished_at + 150)
    assert _messages(snap).count("Fine-tuning job paused") == 2


def test_pause_and_resume_are_ignored_outside_running_and_paused() -> None:
    plan = _plan()
    early_pause = Intervention(plan.validated_at + 1, "pause")
    stray_resume = Intervention(_step(plan, 1), "resume")
    snap = _at(plan, plan.finished_at, early_pause, stray_resume)

    assert snap.status == "succeeded" and snap.finished_at == plan.finished_at
    assert "Fine-tuning job paused" not in _messages(snap)
    assert "Fine-tuning job resumed" not in _messages(snap)


def test_cancel_mid_run_stops_everything_after_the_cancel() -> None:
    plan = _plan()
    cancel_at = _step(plan, 25) + 1
    cancel = Intervention(cancel_at, "cancel")
    snap = _at(plan, plan.finished_at + 1_000, cancel)

    assert (snap.status, snap.finished_at, snap.steps_done) == ("cancelled", cancel_at, 25)
    assert (snap.fine_tuned_model, snap.trained_tokens, snap.error) == (None, None, None)
    assert snap.expected_end is None
    assert snap.checkpoints == ()  # checkpoints come with the model
    assert snap.events[-1].message == "Fine-tuning job cancelled"
    assert all(e.created_at <= cancel_at for e in snap.events)
    assert not any(m.startswith("New fine-tuned model") for m in _messages(snap))


def test_a_step_finishing_in_the_cancel_second_still_counts() -> None:
    plan = _plan()
    snap = _at(plan, plan.finished_at, Intervention(_step(plan, 20), "cancel"))

    assert snap.steps_done == 20
    assert [e.message for e in snap.events][-2:] == [
        "Step 20/30: training loss=" + f"{lc.metrics_for_step(plan, 20).train_loss:.2f}",
        "Fine-tuning job cancelled",
    ]


def test_cancel_while_validating_or_paused() -> None:
    plan = _plan()
    early = _at(plan, plan.finished_at, Intervention(T0 + 1, "cancel"))
    assert (early.status, early.steps_done) == ("cancelled", 0)
    assert _messages(early) == [
        "Created fine-tuning job: ftjob-abc",
        "Validating training file: file-train",
        "Fine-tuning job cancelled",
    ]

    pause = Intervention(_step(plan, 5), "pause")
    cancel = Intervention(_step(plan, 5) + 500, "cancel")
    paused = _at(plan, plan.finished_at + 1_000, pause, cancel)
    assert (paused.status, paused.steps_done, paused.finished_at) == (
        "cancelled",
        5,
        _step(plan, 5) + 500,
    )


def test_injected_failure_fails_the_job_with_its_error_and_an_error_event() -> None:
    plan = _plan()
    error = JobError("invalid_n_epochs", "Too many epochs.", "hyperparameters.n_epochs")
    fail = Intervention(_step(plan, 15), "fail", error)
    snap = _at(plan, plan.finished_at, fail)

    assert (snap.status, snap.error, snap.finished_at) == ("failed", error, _step(plan, 15))
    assert (snap.steps_done, snap.fine_tuned_model, snap.trained_tokens) == (15, None, None)
    last = snap.events[-1]
    assert (last.level, last.message, last.type) == ("error", "Too many epochs.", "message")


def test_failure_without_an_error_gets_a_generic_one() -> None:
    plan = _plan()
    snap = _at(plan, plan.started_at, Intervention(plan.validated_at + 1, "fail"))

    assert snap.status == "failed"
    assert snap.error == JobError(lc.DEFAULT_FAILURE_CODE, lc.DEFAULT_FAILURE_MESSAGE)
    assert snap.events[-1].message == lc.DEFAULT_FAILURE_MESSAGE


def test_complete_now_runs_every_remaining_step_and_succeeds_at_that_instant() -> None:
    plan = _plan(n_validation=5)
    now = _step(plan, 5) + 1
    snap = lc.snapshot(plan, (Intervention(now, "complete"),), now, CTX_WITH_VALIDATION)

    assert (snap.status, snap.finished_at, snap.steps_done) == ("succeeded", now, 30)
    assert (snap.fine_tuned_model, snap.trained_tokens) == (MODEL, plan.trained_tokens)
    assert [(c.step_number, c.created_at) for c in snap.checkpoints] == [
        (10, now),
        (20, now),
        (30, now),
    ]
    assert _messages(snap)[-2:] == [
        f"New fine-tuned model created: {MODEL}",
        "The job has successfully completed",
    ]
    assert [e.data["step"] for e in snap.events if e.type == "metrics"] == list(range(1, 31))


def test_complete_while_queued_or_paused_also_succeeds_at_once() -> None:
    plan = _plan()
    queued = _at(plan, plan.validated_at + 5, Intervention(plan.validated_at + 5, "complete"))
    assert (queued.status, queued.steps_done) == ("succeeded", 30)
    assert "Fine-tuning job started" in _messages(queued)

    pause = Intervention(_step(plan, 3), "pause")
    complete = Intervention(_step(plan, 3) + 900, "complete")
    paused = _at(plan, _step(plan, 3) + 900, pause, complete)
    assert (paused.status, paused.finished_at) == ("succeeded", _step(plan, 3) + 900)


def test_interventions_after_the_end_or_in_the_future_change_nothing() -> None:
    plan = _plan()
    done = _at(plan, plan.finished_at + 100)
    late = _at(plan, plan.finished_at + 100, Intervention(plan.finished_at, "cancel"))
    assert late == done

    future_fail = Intervention(_step(plan, 21), "fail")
    assert _at(plan, _step(plan, 11), future_fail).status == "running"
    assert _at(plan, _step(plan, 21), future_fail).status == "failed"


def test_interventions_take_effect_in_time_order_whatever_the_stored_order() -> None:
    plan = _plan()
    pause = Intervention(_step(plan, 6), "pause")
    resume = Intervention(_step(plan, 6) + 60, "resume")
    now = plan.finished_at + 60

    assert _at(plan, now, resume, pause).status == "succeeded"
    assert _at(plan, now, resume, pause).finished_at == plan.finished_at + 60


def test_a_validation_error_fails_the_job_when_validation_ends() -> None:
    error = JobError("invalid_training_file", "The job failed due to an invalid training file.")
    plan = _plan(validation_error=error)

    assert _at(plan, plan.validated_at - 1).status == "validating_files"
    snap = _at(plan, plan.finished_at)
    assert (snap.status, snap.error, snap.finished_at) == ("failed", error, None)
    assert (snap.steps_done, snap.checkpoints, snap.fine_tuned_model) == (0, (), None)
    assert _messages(snap) == [
        "Created fine-tuning job: ftjob-abc",
        "Validating training file: file-train",
        error.message,
    ]
    assert snap.events[-1].level == "error"
    assert snap.events[-1].created_at == plan.validated_at


def test_a_file_with_no_usable_examples_still_gets_a_failing_plan() -> None:
    error = JobError("invalid_training_file", "No examples.")
    hp = lc.resolve_hyperparameters(RequestedHyperparameters(), 0)
    plan = lc.plan_job(
        created_at=T0,
        stats=TrainingStats(0, 0),
        hyperparameters=hp,
        seed=1,
        validation_error=error,
    )

    assert plan.total_steps == 0
    assert _at(plan, plan.validated_at).status == "failed"
    with pytest.raises(ValueError):
        lc.plan_job(created_at=T0, stats=TrainingStats(0, 0), hyperparameters=hp, seed=1)


def test_status_helpers() -> None:
    assert [s for s in ("validating_files", "queued", "running", "paused") if lc.can_cancel(s)] == [
        "validating_files",
        "queued",
        "running",
        "paused",
    ]
    assert not any(lc.can_cancel(s) for s in ("succeeded", "failed", "cancelled"))
    assert lc.can_pause("running") and not lc.can_pause("queued")
    assert lc.can_resume("paused") and not lc.can_resume("running")
    with pytest.raises(ValueError):
        Intervention(T0, "explode")


# --- what validation's outcome decides, and when ---------------------------------------------


def test_hyperparameters_resolve_late_in_validating_files_and_only_for_usable_files() -> None:
    plan = _plan()
    assert plan.validated_at - lc.HYPERPARAMETERS_LEAD_SECONDS == plan.resolved_at
    assert _at(plan, plan.resolved_at - 1).hyperparameters is None
    resolved = _at(plan, plan.resolved_at)
    assert resolved.status == "validating_files"
    assert resolved.hyperparameters == Hyperparameters(3, 1, 2.0)
    failing = _plan(validation_error=JobError("invalid_n_examples", "Too few."))
    assert _at(failing, failing.finished_at).hyperparameters is None


def test_the_auto_learning_rate_depends_on_the_model() -> None:
    """Real jobs with batch size 1: gpt-4o-mini 1.8, gpt-3.5-turbo and gpt-4.1-mini 2."""

    def multiplier(model: str) -> float:
        return lc.resolve_hyperparameters(
            RequestedHyperparameters(), 100, model
        ).learning_rate_multiplier

    assert multiplier("gpt-4o-mini-2024-07-18") == 1.8
    assert multiplier("gpt-3.5-turbo-0125") == 2.0
    assert multiplier("gpt-4.1-mini-2025-04-14") == 2.0


def test_before_the_outcome_instant_a_snapshot_needs_no_plan() -> None:
    ctx = CTX
    early = lc.snapshot(None, (), lc.outcome_instant(T0) - 1, ctx)
    assert (early.status, early.steps_done, early.hyperparameters) == ("validating_files", 0, None)
    assert _messages(early) == [
        "Created fine-tuning job: ftjob-abc",
        "Validating training file: file-train",
    ]
    assert early.until == lc.outcome_instant(T0)
    with pytest.raises(lc.OutcomeNeeded):
        lc.snapshot(None, (), lc.outcome_instant(T0), ctx)
    cancelled = lc.snapshot(None, (Intervention(T0 + 3, "cancel"),), T0 + 10_000, ctx)
    assert (cancelled.status, cancelled.finished_at) == ("cancelled", T0 + 3)
    with pytest.raises(lc.OutcomeNeeded):  # completing runs the plan to its end
        lc.snapshot(None, (Intervention(T0 + 3, "complete"),), T0 + 3, ctx)


def test_a_snapshot_holds_until_the_next_planned_instant() -> None:
    plan = _plan()
    for now in (T0, plan.resolved_at, plan.validated_at, _step(plan, 4) + 1, plan.finished_at - 1):
        snap = _at(plan, now)
        assert snap.until > now
        assert _at(plan, snap.until - 1) == snap
        assert _at(plan, snap.until) != snap
    assert _at(plan, plan.finished_at).until == lc.NEVER


def test_a_plan_is_a_few_numbers_whatever_its_steps() -> None:
    huge = lc.plan_job(
        created_at=T0,
        stats=TrainingStats(10_000, 2_000_000),
        hyperparameters=Hyperparameters(50, 1, 1.8),
        seed=1,
    )
    assert huge.total_steps == 500_000
    assert len(vars(huge)) == len(vars(_plan()))
    times = [huge.step_time(n) for n in (1, 2, 250_000, 500_000)]
    assert times == sorted(times) and times[-1] < huge.finished_at
    done = _at(huge, huge.finished_at)
    assert done.steps_done == 500_000
    assert len(done.events) <= lc.MAX_METRICS_EVENTS + 20


# --- the event log, one index at a time --------------------------------------------------


def test_pages_newest_first_follow_the_cursor_and_match_the_whole_log() -> None:
    plan = _plan(n_validation=5)
    pause = Intervention(_step(plan, 5), "pause")
    resume = Intervention(_step(plan, 5) + 30, "resume")
    log = lc.snapshot(plan, (pause, resume), plan.finished_at + 30, CTX_WITH_VALIDATION).events
    everything = list(log)[::-1]
    pages, after = [], None
    while True:
        page = log.newest_first(after, 7)
        if not page:
            break
        pages.extend(page)
        after = page[-1].id
    assert pages == everything
    assert [log.position(e.id) for e in everything] == list(range(len(log)))[::-1]
    assert log.newest_first("ftevent-notfromthisjob000000000", 5) == []
    assert log.newest_first(synth.indexed_id("ftevent-", 7, "ftjob-other"), 5) == []
    messages = [e.message for e in log]
    paused = messages.index("Fine-tuning job paused")
    assert messages[paused + 1] == "Fine-tuning job resumed"  # nothing ran in between
    assert messages[paused - 1].startswith("Step 5/30: ")


def test_an_event_id_made_for_a_later_instant_is_not_in_an_earlier_log() -> None:
    plan = _plan()
    final = _at(plan, plan.finished_at).events
    earlier = _at(plan, _step(plan, 3)).events
    assert earlier.position(final[-1].id) is None
    assert earlier.newest_first(final[-1].id, 5) == []
    assert earlier.position(final[5].id) == 5


def test_reported_steps_of_a_thinned_job() -> None:
    from mockft.joblog import EventSteps

    steps = EventSteps(total=5_003, stride=6)
    listed = [steps.step(i) for i in range(steps.count(5_003))]
    assert listed[:3] == [1, 6, 12] and listed[-2:] == [4_998, 5_003]
    assert listed == sorted(set(listed))
    assert all(steps.index(step) == i for i, step in enumerate(listed))
    assert steps.index(7) is None and steps.count(11) == 2
    every = EventSteps(total=30, stride=1)
    assert [every.step(i) for i in range(every.count(30))] == list(range(1, 31))
