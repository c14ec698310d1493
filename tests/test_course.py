"""A job's course (what a scenario's outcome rule decided): its pace and metric targets
shape the plan, its failure, cancellation or hold becomes an intervention at a point of the
plan, all pure and seeded."""

from __future__ import annotations

from dataclasses import replace

from mockft import lifecycle as lc
from mockft import synth
from mockft.course import Course, from_doc, to_doc
from mockft.lifecycle import (
    Hyperparameters,
    JobContext,
    JobError,
    JobPlan,
    Pace,
    RequestedHyperparameters,
    TrainingStats,
)

T0 = 1_700_000_000
CTX = JobContext("ftjob-abc", "file-train", None, "ft:gpt-4o-mini-2024-07-18:o::AbCd1234", T0)
STATS = TrainingStats(20, 4_000)
HYPER = Hyperparameters(3, 2, 2.0)
SERVER_ERROR = JobError("server_error", "The job failed due to an internal error.")


def plan(**kwargs: object) -> JobPlan:
    return lc.plan_job(created_at=T0, stats=STATS, hyperparameters=HYPER, seed=7, **kwargs)  # type: ignore[arg-type]


def test_a_slow_queue_is_drawn_from_its_range_by_the_seed():
    busy = Pace(queue_seconds=(7_200.0, 21_600.0))
    plans = [
        lc.plan_job(created_at=T0, stats=STATS, hyperparameters=HYPER, seed=s, pace=busy)
        for s in range(20)
    ]
    queued = [p.started_at - p.validated_at for p in plans]
    assert all(7_200 <= q <= 21_601 for q in queued)
    assert len(set(queued)) > 10  # spread over the range, not one value
    again = lc.plan_job(created_at=T0, stats=STATS, hyperparameters=HYPER, seed=3, pace=busy)
    assert again == plans[3]  # the same seed, the same day


def test_step_time_and_duration_scale_stretch_training_only():
    normal = plan()
    slow_steps = plan(pace=Pace(step_seconds=(30.0, 30.0)))
    assert slow_steps.step_seconds == 30.0
    assert slow_steps.validated_at == normal.validated_at
    assert slow_steps.started_at == normal.started_at
    scaled = plan(pace=Pace(duration_scale=3.0))
    assert scaled.step_seconds == 3 * normal.step_seconds
    training = normal.finished_at - normal.started_at
    assert scaled.finished_at - scaled.started_at >= 3 * training - 3
    assert plan(pace=Pace()) == normal  # no pace: the timing model's own plan


def test_metric_targets_end_the_curve_exactly_there():
    targets = synth.MetricTargets(final_loss=0.02, final_accuracy=0.99)
    aimed = plan(targets=targets)
    last = lc.metrics_for_step(aimed, aimed.total_steps)
    assert (last.train_loss, last.train_mean_token_accuracy) == (0.02, 0.99)
    first, normal_first = lc.metrics_for_step(aimed, 1), lc.metrics_for_step(plan(), 1)
    assert abs(first.train_loss - normal_first.train_loss) < 0.3 * normal_first.train_loss
    losses = [lc.metrics_for_step(aimed, s).train_loss for s in range(1, aimed.total_steps + 1)]
    assert sum(losses[-5:]) < sum(losses[:5])  # it still learns on the way


def test_a_failure_at_a_step_is_an_intervention_at_that_steps_end():
    course = Course(end=lc.FAIL, step=3, error=SERVER_ERROR)
    p = plan()
    (planned,) = course.interventions(p)
    assert (planned.kind, planned.planned, planned.error) == ("fail", p.step_time(3), SERVER_ERROR)
    snap = lc.snapshot(p, (planned,), p.finished_at, CTX)
    assert (snap.status, snap.steps_done, snap.error) == ("failed", 3, SERVER_ERROR)
    past_the_end = Course(end=lc.FAIL, step=10_000, error=SERVER_ERROR).interventions(p)
    assert past_the_end[0].planned == p.step_time(p.total_steps)


def test_a_hold_in_the_queue_keeps_the_job_queued_until_released():
    p = plan()
    (hold,) = Course(end=lc.HOLD, state=lc.QUEUED).interventions(p)
    later = p.finished_at + 86_400
    assert lc.snapshot(p, (hold,), later, CTX).status == "queued"
    release = lc.Intervention(later, lc.RELEASE)
    assert lc.snapshot(p, (hold, release), later + 86_400, CTX).status == "succeeded"


def test_a_file_error_code_fails_the_job_in_validation():
    bad_file = JobError("invalid_training_file", "The job failed due to an invalid training file.")
    course = Course(end=lc.FAIL, error=bad_file)
    assert course.point_state == lc.VALIDATING_FILES
    assert course.validation_error(None) == bad_file
    assert course.interventions(plan(validation_error=bad_file)) == ()
    assert Course(end=lc.FAIL, error=SERVER_ERROR).point_state == lc.RUNNING


def test_a_cancellation_in_validation_happens_before_it_ends():
    p = plan()
    (cancel,) = Course(end=lc.CANCEL, state=lc.VALIDATING_FILES).interventions(p)
    snap = lc.snapshot(p, (cancel,), p.finished_at, CTX)
    assert snap.status == "cancelled"
    assert snap.finished_at == p.validated_at - 1


def test_a_hold_while_validating_takes_the_job_at_creation():
    course = Course(end=lc.HOLD, state=lc.VALIDATING_FILES)
    (hold,) = course.at_creation(T0)
    snap = lc.snapshot(None, (hold,), T0 + 86_400, CTX)  # no plan needed: never validated
    assert snap.status == "validating_files"


def test_rule_hyperparameters_fill_only_what_was_auto():
    course = Course(n_epochs=5, batch_size=4)
    asked = RequestedHyperparameters(n_epochs=2)
    resolved = course.hyperparameters(asked, 100, "gpt-4o-mini-2024-07-18")
    assert (resolved.n_epochs, resolved.batch_size) == (2, 4)
    about = Course(steps=60).hyperparameters(RequestedHyperparameters(), 100, "gpt-4o-mini")
    assert (about.n_epochs, about.batch_size) == (3, 5)  # 20 steps an epoch, 3 epochs


def test_a_course_is_stored_and_read_back_whole():
    course = Course(
        rule="s.toml:3",
        end=lc.FAIL,
        step=4,
        error=SERVER_ERROR,
        pace=Pace((60.0, 120.0), (3.0, 4.0), 2.0),
        targets=synth.MetricTargets(0.1, None),
        steps=30,
    )
    assert from_doc(to_doc(course)) == course
    assert from_doc(to_doc(replace(course, pace=None, targets=None))) == replace(
        course, pace=None, targets=None
    )
