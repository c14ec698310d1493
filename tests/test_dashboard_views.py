"""The dashboard's pure parts: SVG charts, what a job page derives from the API's answers,
and training examples as chat bubbles."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

from mockft import lifecycle
from mockft.dashboard import charts, examples, jobview


def polyline_points(svg: str, key: str) -> list[tuple[float, float]]:
    match = re.search(rf'data-series="{key}"[^>]*points="([^"]*)"', svg)
    assert match, key
    return [(float(x), float(y)) for x, y in (p.split(",") for p in match.group(1).split())]


def test_a_line_has_one_vertex_per_point_and_higher_values_are_drawn_higher() -> None:
    values = [2.0, 1.5, 1.0, 0.8, 0.5]
    chart = charts.Chart(
        "loss",
        "Loss",
        (charts.Series("train_loss", "Training loss", tuple(enumerate(values, start=1))),),
        total_steps=10,
    )
    svg = str(charts.render(chart))
    points = polyline_points(svg, "train_loss")
    assert len(points) == len(values)
    xs, ys = [x for x, _ in points], [y for _, y in points]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert ys == sorted(ys)  # falling values: y grows downwards in SVG
    # The x axis spans the whole job: 5 of 10 steps reach about half of the plot.
    width = charts.WIDTH - charts.MARGIN_LEFT - charts.MARGIN_RIGHT
    assert xs[-1] - xs[0] == pytest.approx(width * 4 / 9, abs=0.01)
    assert "<title" in svg and "Training loss from 2 at step 1 to 0.5 at step 5" in svg


def test_dots_and_checkpoints_are_marked_where_they_happen() -> None:
    chart = charts.Chart(
        "loss",
        "Loss",
        (
            charts.Series("train_loss", "Training loss", ((1, 1.0), (2, 0.9), (3, 0.8), (4, 0.7))),
            charts.Series("full_valid_loss", "Full validation loss", ((2, 0.95), (4, 0.75)), True),
        ),
        total_steps=4,
        checkpoints=(2, 4),
    )
    svg = str(charts.render(chart))
    line = dict((round(x), y) for x, y in polyline_points(svg, "train_loss"))
    dots = re.findall(r'<circle cx="([\d.]+)" cy="[\d.]+" r="[\d.]+" data-step="(\d)"', svg)
    assert [step for _, step in dots] == ["2", "4"]
    rules = re.findall(r'<g class="checkpoint" data-step="(\d)">.*?<line x1="([\d.]+)"', svg)
    assert [step for step, _ in rules] == ["2", "4"]
    xs_of_steps = sorted(line)
    assert [round(float(x)) for _, x in rules] == [xs_of_steps[1], xs_of_steps[3]]
    assert [round(float(x)) for x, _ in dots] == [xs_of_steps[1], xs_of_steps[3]]


def test_a_chart_without_points_draws_nothing_and_flat_series_stay_finite() -> None:
    empty = charts.Chart("loss", "Loss", (charts.Series("train_loss", "Training loss", ()),), 5)
    assert empty.empty and str(charts.render(empty)) == ""
    flat = charts.Chart(
        "loss", "Loss", (charts.Series("train_loss", "Loss", ((1, 0.5), (2, 0.5))),), 1
    )
    points = polyline_points(str(charts.render(flat)), "train_loss")
    assert all(0 <= y <= charts.HEIGHT for _, y in points)


def test_text_in_a_chart_is_escaped() -> None:
    chart = charts.Chart("x", "<script>", (charts.Series("a", "<b>&", ((1, 1.0),)),), total_steps=1)
    svg = str(charts.render(chart))
    assert "<script>" not in svg and "&lt;b&gt;&amp;" in svg


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]), (0.13, 2.9, [0.5, 1.0, 1.5, 2.0, 2.5])],
)
def test_ticks_are_round_numbers(low: float, high: float, expected: list[float]) -> None:
    assert charts.nice_ticks(low, high, 5) == expected


def test_step_ticks_start_at_one_and_end_at_the_last_step() -> None:
    assert charts.step_ticks(4, 6) == [1, 2, 3, 4]
    ticks = charts.step_ticks(90, 6)
    assert ticks[0] == 1 and ticks[-1] == 90 and ticks == sorted(set(ticks))


# -- a job's page from the API's answers ---------------------------------------------------


@dataclass(frozen=True)
class Event:
    created_at: int
    message: str
    type: str = "message"
    data: dict[str, object] = field(default_factory=dict)
    level: str = "info"
    id: str = ""


@dataclass(frozen=True)
class Checkpoint:
    step_number: int


def metrics(step: int, total: int, **values: float) -> Event:
    return Event(
        100 + step, f"Step {step}", "metrics", {"step": step, "total_steps": total, **values}
    )


def test_progress_is_the_newest_metrics_event() -> None:
    newest_first = [Event(9, "x"), metrics(7, 45, train_loss=1.0), metrics(6, 45, train_loss=1.1)]
    progress = jobview.progress(newest_first)
    assert progress == jobview.Progress(7, 45)
    assert progress is not None and progress.percent == pytest.approx(100 * 7 / 45)
    assert jobview.progress([Event(1, lifecycle.MSG_VALIDATED)]) is None


def test_timeline_follows_the_state_events_and_the_finish() -> None:
    events = [
        Event(10, "Created fine-tuning job: ftjob-x"),
        Event(40, lifecycle.MSG_VALIDATED),
        Event(90, lifecycle.MSG_STARTED),
        metrics(1, 3, train_loss=1.0),
        Event(120, lifecycle.MSG_PAUSED),
        Event(150, lifecycle.MSG_RESUMED),
        Event(190, lifecycle.MSG_CANCELLED),
    ]
    job = {"created_at": 10, "status": "cancelled", "finished_at": 190}
    assert [(t.status, t.at) for t in jobview.timeline(job, events)] == [
        ("validating_files", 10),
        ("queued", 40),
        ("running", 90),
        ("paused", 120),
        ("running", 150),
        ("cancelled", 190),
    ]
    running = {"created_at": 10, "status": "running", "finished_at": None}
    assert jobview.timeline(running, events[:3])[-1] == jobview.Transition("running", 90)


def test_charts_take_every_metrics_event_and_mark_the_checkpoints() -> None:
    events = [
        metrics(1, 4, train_loss=2.0, train_mean_token_accuracy=0.4),
        metrics(2, 4, train_loss=1.5, train_mean_token_accuracy=0.5, full_valid_loss=1.6),
        Event(103, "Checkpoint created at step 2"),
        metrics(3, 4, train_loss=1.0, train_mean_token_accuracy=0.6),
    ]
    made = jobview.charts(events, [Checkpoint(2)], total_steps=4)
    assert [c.key for c in made] == ["loss", "accuracy"]  # no reward: not a graded job
    loss = made[0]
    train = next(s for s in loss.series if s.key == "train_loss")
    assert train.points == ((1, 2.0), (2, 1.5), (3, 1.0))
    full = next(s for s in loss.series if s.key == "full_valid_loss")
    assert full.points == ((2, 1.6),) and full.dots
    assert loss.checkpoints == (2,) and loss.total_steps == 4
    assert jobview.charts([Event(1, "x")], [], 0) == []


# -- training examples as bubbles ----------------------------------------------------------


def lines(*values: object) -> list[bytes | None]:
    return [json.dumps(v).encode() if not isinstance(v, bytes) else v for v in values]


def test_chat_examples_keep_roles_weights_and_tool_calls() -> None:
    shown = examples.first_examples(
        lines(
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                    {"role": "assistant", "content": "Old", "weight": 0},
                    {
                        "role": "assistant",
                        "tool_calls": [{"type": "function", "function": {"name": "f"}}],
                    },
                ],
                "tools": [],
            }
        )
    )
    (example,) = shown
    assert [(b.role, b.text, b.note) for b in example.bubbles] == [
        ("user", "Hi", ""),
        ("assistant", "Old", "not trained on (weight 0)"),
        ("assistant", "", "calls f()"),
    ]
    assert example.extra == ("tools",) and example.format == "chat"


def test_blank_lines_are_skipped_and_broken_lines_are_shown_as_broken() -> None:
    shown = examples.first_examples(
        [b"", b"not json", b"[1]", None, *lines({"prompt": "p", "completion": "c"})], count=3
    )
    assert [(e.line, bool(e.problem)) for e in shown] == [(2, True), (3, True), (4, True)]
    assert "Not JSON" in shown[0].problem and "list" in shown[1].problem


def test_preference_pairs_show_both_replies() -> None:
    (example,) = examples.first_examples(
        lines(
            {
                "input": {"messages": [{"role": "user", "content": "Q"}]},
                "preferred_output": [{"role": "assistant", "content": "good"}],
                "non_preferred_output": [{"role": "assistant", "content": "bad"}],
            }
        )
    )
    assert [(b.role, b.text, b.note) for b in example.bubbles] == [
        ("user", "Q", ""),
        ("assistant", "good", "preferred"),
        ("assistant", "bad", "not preferred"),
    ]
    assert example.format == "dpo"


def test_an_unknown_role_and_a_long_text_are_shown_for_what_they_are() -> None:
    (example,) = examples.first_examples(
        lines({"messages": [{"role": "wizard", "content": "x" * 5000}]})
    )
    (bubble,) = example.bubbles
    assert bubble.role == "note" and 'role "wizard"' in bubble.note
    assert len(bubble.text) < 5000 and bubble.text.endswith("…")
