"""The rules a scenario leaves in force: the course of each new job (outcome rules) and
fixed answers of chat and legacy completions. Patterns are compiled by RE2, so matching is
linear in the text's length whatever the pattern.

Rules are kept in memory, like chaos rules: they describe what happens next, not the data.
A job's course is decided once, when it is created, and stored with it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from mockft import lifecycle
from mockft.course import FILE_ERROR_CODES, Course, JobFacts
from mockft.scenario import model as shapes
from mockft.service.chaos import compile_pattern, glob_to_re2
from mockft.synth import MetricTargets
from mockft.validation import TRAINING_FILE
from mockft.validation import messages as validation_messages

# The real service's wording of a job error by its code (what a rule's `fail` says when it
# gives a code and no message).
FAILURE_MESSAGES: Final = {
    lifecycle.DEFAULT_FAILURE_CODE: lifecycle.DEFAULT_FAILURE_MESSAGE,
    validation_messages.ERROR_CODES[TRAINING_FILE]: validation_messages.JOB_ERROR_PREFIXES[
        TRAINING_FILE
    ],
    # the frame of 2024 captures (docs/fidelity.md, "Training data validation")
    "invalid_training_file": "The job failed due to an invalid training file.",
}
HOLD_DEFAULT_STATE: Final = lifecycle.QUEUED


def failure(spec: shapes.ErrorSpec) -> lifecycle.JobError:
    """The error a rule's `fail` (or a seeded job's `error`) gives: its message, or the
    real wording of its code."""
    message = spec.message or FAILURE_MESSAGES.get(spec.code, lifecycle.DEFAULT_FAILURE_MESSAGE)
    param = spec.param
    if param is None and spec.code in FILE_ERROR_CODES:
        param = TRAINING_FILE
    return lifecycle.JobError(spec.code, message, param)


def course_of(
    outcome: shapes.OutcomeSpec,
    pace_from: shapes.OutcomeSpec | None = None,
    rule: str | None = None,
) -> Course:
    """The course an outcome says (its pace from `pace_from`, when another rule gives it)."""
    slow = (pace_from or outcome).slow
    succeed = outcome.succeed
    scale = succeed.duration_scale if succeed and succeed.duration_scale else 1.0
    pace = None
    if slow is not None or scale != 1.0:
        pace = lifecycle.Pace(
            queue_seconds=slow.queue if slow else None,
            step_seconds=slow.step if slow else None,
            duration_scale=scale,
        )
    targets = None
    if succeed and (succeed.final_loss is not None or succeed.final_accuracy is not None):
        targets = MetricTargets(succeed.final_loss, succeed.final_accuracy)
    point: shapes.PointSpec | shapes.FailSpec | None = (
        outcome.fail or outcome.cancel or outcome.hold
    )
    state: str | None = point.in_state if point else None
    if outcome.hold is not None and state is None and point is not None and point.at_step is None:
        state = HOLD_DEFAULT_STATE
    return Course(
        rule=rule,
        end=outcome.end or "succeed",
        state=state,
        step=point.at_step if point else None,
        error=failure(outcome.fail) if outcome.fail else None,
        pace=pace,
        targets=targets,
        n_epochs=succeed.n_epochs if succeed else None,
        batch_size=succeed.batch_size if succeed else None,
        learning_rate_multiplier=succeed.learning_rate_multiplier if succeed else None,
        steps=succeed.steps if succeed else None,
    )


class Glob:
    """A shell glob (`*`, `?`, `[abc]`) matched whole, in linear time."""

    def __init__(self, pattern: str) -> None:
        self._compiled = compile_pattern(glob_to_re2(pattern), dot_matches_newline=True)

    def matches(self, text: str) -> bool:
        return self._compiled.search(text) is not None


@dataclass(frozen=True)
class OutcomeMatcher:
    rule: shapes.OutcomeRule
    label: str
    model: Glob | None
    suffix: Glob | None
    training_file: Glob | None
    org: Glob | None
    metadata: tuple[tuple[str, Glob], ...]

    @classmethod
    def compile(cls, rule: shapes.OutcomeRule, label: str) -> OutcomeMatcher:
        """Raises `PatternError` for a glob RE2 refuses."""
        match = rule.match

        def glob(pattern: str | None) -> Glob | None:
            return None if pattern is None else Glob(pattern)

        return cls(
            rule=rule,
            label=rule.name or label,
            model=glob(match.model),
            suffix=glob(match.suffix),
            training_file=glob(match.training_file),
            org=glob(match.org),
            metadata=tuple((k, Glob(v)) for k, v in (match.metadata or {}).items()),
        )

    def matches(self, job: JobFacts) -> bool:
        method = self.rule.match.method
        if method is not None and method != job.method:
            return False
        if self.model is not None and not (
            self.model.matches(job.model) or self.model.matches(job.base_snapshot)
        ):
            return False
        checks = (
            (self.suffix, job.suffix or ""),
            (self.training_file, job.training_filename),
            (self.org, job.organization),
        )
        if any(glob is not None and not glob.matches(text) for glob, text in checks):
            return False
        metadata = job.metadata or {}
        return all(key in metadata and glob.matches(metadata[key]) for key, glob in self.metadata)


@dataclass(frozen=True)
class AnswerMatcher:
    rule: shapes.AnswerRule
    model: Glob
    prompt: Any  # a compiled RE2 pattern, or None for an exact prompt (or any)

    @classmethod
    def compile(cls, rule: shapes.AnswerRule) -> AnswerMatcher:
        pattern = None if rule.prompt_regex is None else compile_pattern(rule.prompt_regex)
        return cls(rule, Glob(rule.model), pattern)

    def matches(self, models: Sequence[str], prompt: str) -> bool:
        if not any(self.model.matches(name) for name in models):
            return False
        if self.prompt is not None:
            return self.prompt.search(prompt) is not None
        return self.rule.prompt is None or self.rule.prompt == prompt


class Rules:
    """The rules in force, first match first. Thread-safe: a scenario may be loaded while
    requests are answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outcomes: tuple[OutcomeMatcher, ...] = ()
        self._answers: tuple[AnswerMatcher, ...] = ()

    def add(self, outcomes: Sequence[OutcomeMatcher], answers: Sequence[AnswerMatcher]) -> None:
        """Rules of a newly loaded scenario: before those already in force."""
        with self._lock:
            self._outcomes = (*outcomes, *self._outcomes)
            self._answers = (*answers, *self._answers)

    def clear(self) -> None:
        with self._lock:
            self._outcomes, self._answers = (), ()

    @property
    def outcomes(self) -> tuple[OutcomeMatcher, ...]:
        return self._outcomes

    @property
    def answers(self) -> tuple[AnswerMatcher, ...]:
        return self._answers

    def course_for(self, job: JobFacts) -> Course | None:
        """The course of a new job: the end of the first matching rule that gives one, the
        pace of the first that gives one."""
        ending = slow = None
        for matcher in self._outcomes:
            if (ending is None or slow is None) and matcher.matches(job):
                if ending is None and matcher.rule.end is not None:
                    ending = matcher
                if slow is None and matcher.rule.slow is not None:
                    slow = matcher
        chosen = ending if ending is not None else slow
        if chosen is None:
            return None
        label = " + ".join(dict.fromkeys(m.label for m in (ending, slow) if m is not None))
        return course_of(chosen.rule, slow.rule if slow else None, label)

    def answer_for(self, models: Sequence[str], prompt: str) -> str | None:
        """The fixed reply of the first rule for this prompt to a model (any of the names it
        answers as); None when no rule gives one, or the first that matches says to answer
        from the training data (as a model does without rules)."""
        for matcher in self._answers:
            if matcher.matches(models, prompt):
                return None if matcher.rule.from_training else matcher.rule.reply
        return None
