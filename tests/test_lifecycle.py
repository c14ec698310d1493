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
    job_id="ftjob-abc", training_file="file-train", validation_file=None, fine_tuned_model=MODEL
)
CTX_WITH_VALIDATION = JobContext("ftjob-abc", "file-train", "file-valid", MODEL)


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
    assert plan.total_steps == len(plan.step_times) == 14
    assert plan.trained_tokens == 10_000
    assert T0 < plan.validated_at < plan.started_at < plan.step_times[0]
    assert list(plan.step_times) == sorted(set(plan.step_times))
    assert plan.step_times[-1] < plan.finished_at


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
    assert big.step_times[-1] - big.started_at > 1.5 * (small.step_times[-1] - small.started_at)


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
        (plan.step_times[0], "running", 1),
        (plan.step_times[-1], "running", 30),
        (plan.finished_at - 1, "running", 30),
        (plan.finished_at, "succeeded", 30),
        (plan.finished_at + 86_400, "succeeded", 30),
    ]
    for now, status, steps in expectations:
        snap = _at(plan, now)
        assert (now, snap.status, snap.steps_done) == (now, status, steps)


def test_model_tokens_and_finish_time_appear_only_once_succeeded() -> None:
    plan = _plan()
    running = _at(plan, plan.step_times[5])
    done = _at(plan, plan.finished_at)

    assert (running.fine_tuned_model, running.trained_tokens, running.finished_at) == (
        None,
        None,
        None,
    )
    assert running.estimated_finish == plan.finished_at
    assert _at(plan, plan.validated_at).estimated_finish == plan.finished_at
    assert _at(plan, T0).estimated_finish is None
    assert (done.fine_tuned_model, done.trained_tokens, done.finished_at) == (
        MODEL,
        plan.trained_tokens,
        plan.finished_at,
    )
    assert done.estimated_finish is None and done.error is None


def test_successful_job_events_read_like_the_real_service() -> None:
    plan = _plan(n_examples=10, n_epochs=3)
    snap = _at(plan, plan.finished_at)

    steps = [f"Step {n}/30: training loss=" for n in range(1, 31)]
    expected_prefixes = [
        "Created fine-tuning job: ftjob-abc",
        "Validating training file: file-train",
        "Files validated, moving job to queued state",
        "Fine-tuning job started",
        *steps[:10],
        "Checkpoint created at step 10",
        *steps[10:20],
        "Checkpoint created at step 20",
        *steps[20:],
        "Checkpoint created at step 30",
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

    assert event.id == synth.make_id("ftevent-", "ftjob-abc", "step-7")
    assert event.created_at == plan.step_times[6]
    assert event.message == synth.metrics_event_message(metrics, 30)
    assert event.data == synth.metrics_event_data(metrics, 30)


def test_event_order_is_strict_with_unique_stable_ids_and_nondecreasing_times() -> None:
    plan = _plan()
    events = _at(plan, plan.finished_at).events

    assert len({e.id for e in events}) == len(events)
    assert all(e.id.startswith("ftevent-") and len(e.id) == 8 + 24 for e in events)
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)
    assert events[0].id == synth.make_id("ftevent-", "ftjob-abc", "created")


def test_events_appear_only_once_they_have_happened_and_never_change() -> None:
    plan = _plan()
    final = _at(plan, plan.finished_at).events
    for now in (T0 - 1, T0, plan.validated_at, plan.step_times[14], plan.finished_at - 1):
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
    assert all(", validation loss=" in e.message for e in metrics)
    assert all("valid_loss" in e.data for e in metrics)


def test_checkpoints_at_the_last_three_epoch_ends_with_their_metrics() -> None:
    plan = _plan(n_validation=5)
    checkpoints = lc.snapshot(plan, (), plan.finished_at, CTX_WITH_VALIDATION).checkpoints

    assert [c.step_number for c in checkpoints] == [10, 20, 30]
    assert [c.created_at for c in checkpoints] == [plan.step_times[n - 1] for n in (10, 20, 30)]
    first = checkpoints[0]
    assert first.id == synth.make_id("ftckpt_", "ftjob-abc", 10)
    assert first.fine_tuned_model_checkpoint == f"{MODEL}:ckpt-step-10"
    m = lc.metrics_for_step(plan, 10)
    assert first.metrics == {
        "step": 10,
        "train_loss": m.train_loss,
        "train_mean_token_accuracy": m.train_mean_token_accuracy,
        "valid_loss": m.valid_loss,
        "valid_mean_token_accuracy": m.valid_mean_token_accuracy,
        "full_valid_loss": m.full_valid_loss,
        "full_valid_mean_token_accuracy": m.full_valid_mean_token_accuracy,
    }
    without_validation = _at(_plan(), _plan().finished_at).checkpoints[0].metrics
    assert set(without_validation) == {"step", "train_loss", "train_mean_token_accuracy"}


def test_checkpoint_count_follows_epochs() -> None:
    assert _plan(n_epochs=10).checkpoint_steps == (80, 90, 100)
    assert _plan(n_epochs=2).checkpoint_steps == (10, 20)
    assert _plan(n_epochs=1).checkpoint_steps == (10,)
    midway = _plan(n_epochs=10)
    assert [c.step_number for c in _at(midway, midway.step_times[89]).checkpoints] == [80, 90]


def test_huge_jobs_thin_out_metrics_events_but_keep_first_last_and_checkpoints() -> None:
    plan = _plan(n_examples=5_000, n_epochs=1, tokens=500_000)
    snap = _at(plan, plan.finished_at)
    metric_steps = [e.data["step"] for e in snap.events if e.type == "metrics"]

    assert plan.total_steps == 5_000 and plan.metrics_event_stride == 5
    assert len(metric_steps) <= lc.MAX_METRICS_EVENTS + 2
    assert metric_steps[:3] == [1, 5, 10] and metric_steps[-1] == 5_000
    assert _messages(snap)[-3] == "Checkpoint created at step 5000"
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
    paused_at = plan.step_times[11]
    resumed_at = paused_at + 600
    pause = Intervention(paused_at, "pause")
    resume = Intervention(resumed_at, "resume")

    held = _at(plan, resumed_at - 1, pause)
    assert (held.status, held.steps_done, held.estimated_finish) == ("paused", 12, None)
    assert _messages(held)[-1] == "Fine-tuning job paused"
    assert _at(plan, plan.finished_at + 10_000, pause).status == "paused"

    after = _at(plan, resumed_at, pause, resume)
    assert (after.status, after.steps_done) == ("running", 12)
    assert after.estimated_finish == plan.finished_at + 600
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
    assert step_13.created_at == plan.step_times[12] + 600


def test_repeated_pauses_add_up() -> None:
    plan = _plan()
    first, second = plan.step_times[3], plan.step_times[20] + 100
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
    stray_resume = Intervention(plan.step_times[0], "resume")
    snap = _at(plan, plan.finished_at, early_pause, stray_resume)

    assert snap.status == "succeeded" and snap.finished_at == plan.finished_at
    assert "Fine-tuning job paused" not in _messages(snap)
    assert "Fine-tuning job resumed" not in _messages(snap)


def test_cancel_mid_run_stops_everything_after_the_cancel() -> None:
    plan = _plan()
    cancel_at = plan.step_times[24] + 1
    cancel = Intervention(cancel_at, "cancel")
    snap = _at(plan, plan.finished_at + 1_000, cancel)

    assert (snap.status, snap.finished_at, snap.steps_done) == ("cancelled", cancel_at, 25)
    assert (snap.fine_tuned_model, snap.trained_tokens, snap.error) == (None, None, None)
    assert snap.estimated_finish is None
    assert [c.step_number for c in snap.checkpoints] == [10, 20]
    assert snap.events[-1].message == "Fine-tuning job cancelled"
    assert all(e.created_at <= cancel_at for e in snap.events)
    assert not any(m.startswith("New fine-tuned model") for m in _messages(snap))


def test_a_step_finishing_in_the_cancel_second_still_counts() -> None:
    plan = _plan()
    snap = _at(plan, plan.finished_at, Intervention(plan.step_times[19], "cancel"))

    assert snap.steps_done == 20
    assert [c.step_number for c in snap.checkpoints] == [10, 20]
    assert _messages(snap)[-2:] == ["Checkpoint created at step 20", "Fine-tuning job cancelled"]


def test_cancel_while_validating_or_paused() -> None:
    plan = _plan()
    early = _at(plan, plan.finished_at, Intervention(T0 + 1, "cancel"))
    assert (early.status, early.steps_done) == ("cancelled", 0)
    assert _messages(early) == [
        "Created fine-tuning job: ftjob-abc",
        "Validating training file: file-train",
        "Fine-tuning job cancelled",
    ]

    pause = Intervention(plan.step_times[4], "pause")
    cancel = Intervention(plan.step_times[4] + 500, "cancel")
    paused = _at(plan, plan.finished_at + 1_000, pause, cancel)
    assert (paused.status, paused.steps_done, paused.finished_at) == (
        "cancelled",
        5,
        plan.step_times[4] + 500,
    )


def test_injected_failure_fails_the_job_with_its_error_and_an_error_event() -> None:
    plan = _plan()
    error = JobError("invalid_n_epochs", "Too many epochs.", "hyperparameters.n_epochs")
    fail = Intervention(plan.step_times[14], "fail", error)
    snap = _at(plan, plan.finished_at, fail)

    assert (snap.status, snap.error, snap.finished_at) == ("failed", error, plan.step_times[14])
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
    now = plan.step_times[4] + 1
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

    pause = Intervention(plan.step_times[2], "pause")
    complete = Intervention(plan.step_times[2] + 900, "complete")
    paused = _at(plan, plan.step_times[2] + 900, pause, complete)
    assert (paused.status, paused.finished_at) == ("succeeded", plan.step_times[2] + 900)


def test_interventions_after_the_end_or_in_the_future_change_nothing() -> None:
    plan = _plan()
    done = _at(plan, plan.finished_at + 100)
    late = _at(plan, plan.finished_at + 100, Intervention(plan.finished_at, "cancel"))
    assert late == done

    future_fail = Intervention(plan.step_times[20], "fail")
    assert _at(plan, plan.step_times[10], future_fail).status == "running"
    assert _at(plan, plan.step_times[20], future_fail).status == "failed"


def test_interventions_take_effect_in_time_order_whatever_the_stored_order() -> None:
    plan = _plan()
    pause = Intervention(plan.step_times[5], "pause")
    resume = Intervention(plan.step_times[5] + 60, "resume")
    now = plan.finished_at + 60

    assert _at(plan, now, resume, pause).status == "succeeded"
    assert _at(plan, now, resume, pause).finished_at == plan.finished_at + 60


def test_a_validation_error_fails_the_job_when_validation_ends() -> None:
    error = JobError("invalid_training_file", "The job failed due to an invalid training file.")
    plan = _plan(validation_error=error)

    assert _at(plan, plan.validated_at - 1).status == "validating_files"
    snap = _at(plan, plan.finished_at)
    assert (snap.status, snap.error, snap.finished_at) == ("failed", error, plan.validated_at)
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
