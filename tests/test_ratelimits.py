"""The rate limits an answer announces: durations as Go writes them, limits per model."""

from __future__ import annotations

import pytest

from mockft import ratelimits
from mockft.catalog import load_catalog


@pytest.mark.parametrize(
    ("milliseconds", "text"),
    [
        (0, "0s"),
        (-5, "0s"),
        (6, "6ms"),
        (999, "999ms"),
        (1000, "1s"),
        (16_227, "16.227s"),
        (1_500, "1.5s"),
        (60_000, "1m0s"),
        (61_500, "1m1.5s"),
        (360_000, "6m0s"),
        (3_600_000, "1h0m0s"),
        (3_723_004, "1h2m3.004s"),
    ],
)
def test_durations_are_written_as_go_writes_them(milliseconds: int, text: str) -> None:
    assert ratelimits.duration(milliseconds) == text


def test_the_longest_prefix_names_the_family() -> None:
    assert ratelimits.limits_for("gpt-4o-mini-2024-07-18") == ratelimits.LIMITS["gpt-4o-mini"]
    assert ratelimits.limits_for("gpt-4o-2024-08-06") == ratelimits.LIMITS["gpt-4o"]
    assert ratelimits.limits_for("gpt-4-0613") == ratelimits.LIMITS["gpt-4"]
    assert (
        ratelimits.limits_for("gpt-3.5-turbo-instruct-0914")
        == ratelimits.LIMITS["gpt-3.5-turbo-instruct"]
    )
    assert ratelimits.limits_for("somebody-else") == ratelimits.DEFAULT_LIMITS


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("ft:gpt-4o-mini-2024-07-18:acme:recipes:9x9umpsR", "gpt-4o-mini"),
        ("ft:gpt-4o-mini-2024-07-18:acme::9x9umLQq:ckpt-step-80", "gpt-4o-mini"),
        ("ft:babbage-002:acme::8J6LXhXG", "babbage-002"),
        ("somebody-else", None),
        ("ft:", None),
    ],
)
def test_a_model_belongs_to_the_family_a_429_names(model: str, family: str | None) -> None:
    assert ratelimits.family_of(model) == family


def test_no_answerable_request_exceeds_its_token_limit() -> None:
    """mockft never refuses a call for its size per minute, so the announced limit holds
    the largest call a model accepts (its context window)."""
    for model in load_catalog():
        if model.endpoint in ("chat", "completions") and model.context_window:
            assert ratelimits.limits_for(model.id).tokens >= model.context_window, model.id


def test_a_call_larger_than_the_limit_leaves_nothing() -> None:
    limits = ratelimits.Limits(requests=60, tokens=1_000)
    found = ratelimits.headers(limits, 5_000)
    assert found["x-ratelimit-remaining-tokens"] == "0"
    assert found["x-ratelimit-reset-tokens"] == "1m0s"
    assert found["x-ratelimit-reset-requests"] == "1s"
