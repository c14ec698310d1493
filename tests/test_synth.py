from __future__ import annotations

import pytest

from mockft import synth
from mockft.synth import StepMetrics


def _run(
    seed: int = 7,
    *,
    steps_per_epoch: int = 10,
    n_epochs: int = 3,
    lr: float = 2.0,
    validation: bool = True,
    evaluate: bool | None = True,
) -> list[StepMetrics]:
    """Every step's metrics; with `evaluate=True` (the curves' tests) the validation batch
    is scored at every step, with None only where the real API reports it."""
    total = steps_per_epoch * n_epochs
    return [
        synth.step_metrics(
            seed, step, total, steps_per_epoch, n_epochs, lr, validation, evaluate=evaluate
        )
        for step in range(1, total + 1)
    ]


# --- ids and names -----------------------------------------------------------------------


def test_ids_are_prefix_plus_24_base62_chars_and_repeatable() -> None:
    job_id = synth.make_id("ftjob-", "org-1", 3)

    assert job_id.startswith("ftjob-")
    assert len(job_id) == len("ftjob-") + 24
    assert set(job_id.removeprefix("ftjob-")) <= set(synth.BASE62)
    assert synth.make_id("ftjob-", "org-1", 3) == job_id


def test_different_parts_give_different_ids() -> None:
    ids = {
        synth.make_id("file-", "a", "b"),
        synth.make_id("file-", "a\x1fb"),
        synth.make_id("file-", "ab"),
        synth.make_id("file-", 1),
        synth.make_id("file-", "1"),
        synth.make_id("file-", "a", "c"),
    }
    assert len(ids) == 6


def test_same_parts_under_different_prefixes_are_unrelated() -> None:
    a = synth.make_id("ftjob-", "x").removeprefix("ftjob-")
    b = synth.make_id("file-", "x").removeprefix("file-")
    assert a != b


def test_id_length_can_be_chosen_even_beyond_one_digest() -> None:
    long_id = synth.make_id("cp_", "x", length=100)

    assert len(long_id) == 3 + 100
    assert long_id.startswith("cp_" + synth.make_id("cp_", "x", length=40)[3:])
    assert synth.make_id("cp_", "x", length=0) == "cp_"
    with pytest.raises(ValueError):
        synth.make_id("cp_", "x", length=-1)


def test_fine_tuned_model_names_follow_the_real_format() -> None:
    tag = synth.model_tag("ftjob-abc")
    assert len(tag) == 8 and set(tag) <= set(synth.BASE62)
    assert synth.model_tag("ftjob-abc") == tag

    with_suffix = synth.fine_tuned_model_name("gpt-4o-mini-2024-07-18", "my-org", "bot", tag)
    without = synth.fine_tuned_model_name("gpt-3.5-turbo-0125", "my-org", None, "8J6LXhXG")

    assert with_suffix == f"ft:gpt-4o-mini-2024-07-18:my-org:bot:{tag}"
    assert without == "ft:gpt-3.5-turbo-0125:my-org::8J6LXhXG"
    assert synth.checkpoint_model_name(without, 12) == (
        "ft:gpt-3.5-turbo-0125:my-org::8J6LXhXG:ckpt-step-12"
    )


def test_drawn_seeds_are_repeatable_31_bit_integers() -> None:
    seeds = [synth.draw_seed("ftjob-x", n) for n in range(200)]

    assert all(0 <= seed <= 2**31 - 1 for seed in seeds)
    assert len(set(seeds)) == len(seeds)
    assert synth.draw_seed("ftjob-x", 0) == seeds[0]


def test_seeded_uniform_stays_in_range_and_repeats() -> None:
    values = [synth.seeded_uniform(20.0, 120.0, 5, "queue", n) for n in range(500)]

    assert all(20.0 <= v < 120.0 for v in values)
    assert max(values) - min(values) > 80  # actually spread over the range
    assert synth.seeded_uniform(20.0, 120.0, 5, "queue", 0) == values[0]


# --- metric curves -----------------------------------------------------------------------


def test_same_seed_gives_identical_metrics_and_a_different_seed_does_not() -> None:
    assert _run(seed=1) == _run(seed=1)
    assert _run(seed=1) != _run(seed=2)


def test_a_steps_metrics_do_not_depend_on_which_other_steps_were_computed() -> None:
    full = _run(seed=3)
    alone = synth.step_metrics(3, 17, 30, 10, 3, 2.0, True, evaluate=True)

    assert alone == full[16]


def test_training_loss_starts_high_and_falls_while_accuracy_rises() -> None:
    for seed in range(50):
        rows = _run(seed=seed, validation=False)
        first_epoch = [r.train_loss for r in rows[:10]]
        last_epoch = [r.train_loss for r in rows[-10:]]

        assert 1.0 < rows[0].train_loss < 4.0
        assert sum(last_epoch) / 10 < sum(first_epoch) / 10 / 2
        assert rows[0].train_mean_token_accuracy < 0.7
        assert rows[-1].train_mean_token_accuracy > 0.8
        assert all(0.0 <= r.train_mean_token_accuracy <= 1.0 for r in rows)


def test_accuracies_always_lie_in_unit_interval() -> None:
    for seed in range(30):
        for r in _run(seed=seed, n_epochs=10, lr=8.0):
            accuracies = (r.train_mean_token_accuracy, r.valid_mean_token_accuracy)
            assert all(a is not None and 0.0 <= a <= 1.0 for a in accuracies)


def test_validation_loss_turns_up_when_trained_for_many_epochs() -> None:
    for seed in range(50):
        valid = [r.valid_loss for r in _run(seed=seed, n_epochs=10)]
        losses = [v for v in valid if v is not None]

        assert losses[-1] > min(losses) * 1.2


def test_a_high_learning_rate_overfits_even_in_three_epochs() -> None:
    for seed in range(50):
        gentle = [r.valid_loss or 0.0 for r in _run(seed=seed, lr=1.0)]
        harsh = [r.valid_loss or 0.0 for r in _run(seed=seed, lr=8.0)]

        assert harsh[-1] - min(harsh) > gentle[-1] - min(gentle)
        assert harsh[-1] > min(harsh) * 1.2


def test_full_validation_metrics_only_at_epoch_ends_and_only_with_validation() -> None:
    rows = _run(steps_per_epoch=4, n_epochs=3)

    with_full = [r.step for r in rows if r.full_valid_loss is not None]
    assert with_full == [4, 8, 12]
    assert all((r.full_valid_mean_token_accuracy is None) == (r.step % 4 != 0) for r in rows)
    assert all(r.valid_loss is not None for r in rows)


def test_a_validation_batch_is_scored_every_tenth_step() -> None:
    """Real metrics events carry valid_loss at steps 10, 20, ... only (the cookbook's
    "How to fine-tune chat models": steps 290 and 300 of 303; a 2025 job: 60 and 200)."""
    rows = _run(steps_per_epoch=101, n_epochs=3, evaluate=None)

    assert [r.step for r in rows if r.valid_loss is not None] == list(range(10, 301, 10))
    assert all((r.valid_mean_token_accuracy is None) == (r.valid_loss is None) for r in rows)
    last = rows[-1]  # step 303: the full validation set, no batch
    assert (last.valid_loss, last.full_valid_loss is not None) == (None, True)
    forced = synth.step_metrics(7, 101, 303, 101, 3, 2.0, True, evaluate=True)
    assert forced.valid_loss is not None  # a checkpoint is always scored

    bare = _run(steps_per_epoch=4, n_epochs=3, validation=False)
    assert all(
        r.valid_loss is None and r.valid_mean_token_accuracy is None and r.full_valid_loss is None
        for r in bare
    )


def test_last_step_gets_full_validation_even_off_an_epoch_boundary() -> None:
    m = synth.step_metrics(1, 7, 7, 3, 3, 2.0, True)
    assert m.full_valid_loss is not None


def test_metric_values_are_rounded_to_five_decimals() -> None:
    for r in _run(seed=11):
        for value in (r.train_loss, r.train_mean_token_accuracy, r.valid_loss):
            assert value is not None and round(value, 5) == value


def test_out_of_range_steps_are_rejected() -> None:
    with pytest.raises(ValueError):
        synth.step_metrics(1, 0, 30, 10, 3, 2.0, False)
    with pytest.raises(ValueError):
        synth.step_metrics(1, 31, 30, 10, 3, 2.0, False)


# --- result CSV --------------------------------------------------------------------------


def test_result_csv_has_header_one_row_per_step_and_blank_validation_cells() -> None:
    rows = _run(validation=False)
    lines = synth.result_csv(rows).decode().splitlines()

    assert lines[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len(lines) == 1 + 30
    assert [line.split(",")[0] for line in lines[1:]] == [str(n) for n in range(1, 31)]
    assert all(line.endswith(",,") for line in lines[1:])
    assert float(lines[1].split(",")[1]) == rows[0].train_loss


def test_result_csv_with_validation_fills_the_cells_of_scored_steps() -> None:
    lines = synth.result_csv(_run(evaluate=None)).decode().splitlines()[1:]

    assert all(len(line.split(",")) == 5 for line in lines)
    filled = [int(line.split(",")[0]) for line in lines if "" not in line.split(",")]
    assert filled == [10, 20, 30]


def test_result_file_chunks_are_the_base64_of_the_csv_in_pieces() -> None:
    import base64

    rows = _run(steps_per_epoch=1_000, n_epochs=9, evaluate=None)
    chunks = list(synth.result_file_chunks(iter(rows)))

    assert len(chunks) > 1
    assert base64.b64decode(b"".join(chunks)) == synth.result_csv(rows)


def test_result_csv_bytes_are_stable_and_never_use_exponents() -> None:
    tiny = StepMetrics(step=1, train_loss=0.00001, train_mean_token_accuracy=1.0)
    csv = synth.result_csv([tiny])

    assert csv.endswith(b"1,0.00001,1.0,,\n")
    assert synth.result_csv(_run(seed=4)) == synth.result_csv(_run(seed=4))
    assert synth.result_csv(_run(seed=4)) != synth.result_csv(_run(seed=5))


# --- metrics events ----------------------------------------------------------------------


def test_metrics_event_message_prints_two_decimals_like_the_real_service() -> None:
    plain = StepMetrics(step=1, train_loss=2.85049, train_mean_token_accuracy=0.5)
    validated = StepMetrics(
        step=7,
        train_loss=1.2345,
        train_mean_token_accuracy=0.6,
        valid_loss=1.449,
        valid_mean_token_accuracy=0.55,
    )

    assert synth.metrics_event_message(plain, 100) == "Step 1/100: training loss=2.85"
    assert synth.metrics_event_message(validated, 30) == (
        "Step 7/30: training loss=1.23, validation loss=1.45"
    )


def test_epoch_end_message_also_reports_full_validation_loss() -> None:
    m = synth.step_metrics(2, 10, 30, 10, 3, 2.0, True)
    assert m.full_valid_loss is not None

    message = synth.metrics_event_message(m, 30)
    assert message.endswith(f", full validation loss={m.full_valid_loss:.2f}")


def test_metrics_event_data_omits_absent_validation_values() -> None:
    plain = synth.step_metrics(2, 3, 30, 10, 3, 2.0, False)
    epoch_end = synth.step_metrics(2, 10, 30, 10, 3, 2.0, True)

    assert synth.metrics_event_data(plain, 30) == {
        "step": 3,
        "train_loss": plain.train_loss,
        "total_steps": 30,
        "train_mean_token_accuracy": plain.train_mean_token_accuracy,
    }
    # The real API's order (shorter keys first), as in its captured metrics events.
    assert list(synth.metrics_event_data(epoch_end, 30)) == [
        "step",
        "train_loss",
        "valid_loss",
        "total_steps",
        "full_valid_loss",
        "train_mean_token_accuracy",
        "valid_mean_token_accuracy",
        "full_valid_mean_token_accuracy",
    ]


def test_rewards_follow_accuracy_and_only_when_asked() -> None:
    plain = synth.step_metrics(1, 5, 30, 10, 3, 2.0, True, evaluate=True)
    assert plain.train_reward_mean is None and plain.valid_reward_mean is None
    graded = synth.with_rewards(plain)
    assert graded.train_reward_mean is not None and graded.valid_reward_mean is not None
    assert 0 <= graded.train_reward_mean <= plain.train_mean_token_accuracy
    assert "reward=" in synth.metrics_event_message(graded, 30)
    assert "train_reward_mean" in synth.metrics_event_data(graded, 30)
    assert "train_reward_mean" not in synth.metrics_event_data(plain, 30)


# --- indexed ids -------------------------------------------------------------------------


def test_indexed_ids_look_like_ids_and_give_their_index_back() -> None:
    ids = [synth.indexed_id("ftevent-", index, "ftjob-a") for index in (0, 1, 2, 7 * 2**40 + 3)]

    assert all(i.startswith("ftevent-") and len(i) == 8 + 24 for i in ids)
    assert all(c in synth.BASE62 for i in ids for c in i[8:])
    assert len(set(ids)) == len(ids)
    assert [synth.id_index("ftevent-", i, "ftjob-a") for i in ids] == [0, 1, 2, 7 * 2**40 + 3]
    assert ids[0] == synth.indexed_id("ftevent-", 0, "ftjob-a")  # repeatable
    assert synth.indexed_id("ftevent-", 0, "ftjob-b") != ids[0]  # per owner


def test_a_foreign_or_malformed_id_gives_no_small_index() -> None:
    mine = synth.indexed_id("ftevent-", 5, "ftjob-a")
    for other in (
        synth.indexed_id("ftevent-", 5, "ftjob-b"),
        synth.make_id("ftevent-", "ftjob-a", "step-5"),
    ):
        index = synth.id_index("ftevent-", other, "ftjob-a")
        assert index is not None and index >= 2**60  # nothing a job's events use
    for malformed in ("ftevent-short", mine[:-1] + "!", "ftckpt_" + mine[8:], ""):
        assert synth.id_index("ftevent-", malformed, "ftjob-a") is None


def test_checkpoint_models_are_a_model_name_with_ckpt_step() -> None:
    name = synth.fine_tuned_model_name("gpt-4o-mini-2024-07-18", "personal", "x", "9x9umLQq")
    assert synth.checkpoint_model_name(name, 160) == (
        "ft:gpt-4o-mini-2024-07-18:personal:x:9x9umLQq:ckpt-step-160"
    )
