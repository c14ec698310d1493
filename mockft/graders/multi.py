"""``multi``: named sub-graders combined by a formula (`mockft.graders.formula`).

``graders`` maps a name to a grader and ``calculate_output`` refers to the sub-graders by
those names (``"(name + email) / 2"``). OpenAI's OpenAPI description types ``graders`` as one
grader, but the real API answers that shape with ``Invalid type for 'graders.input':
expected an object, but got a string instead``, which mockft reproduces. Each sub-grader
runs; ``sub_rewards`` and ``metadata.scores`` map each name to its reward. A formula that
does not parse or names an unknown grader is refused at validate; one that fails while
computing (division by zero, ``sqrt`` of a negative, overflow) gives reward 0 with
``metadata.errors.other_error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, TypeAlias

from pydantic import Tag

from mockft.graders.base import SUB_GRADER_UNION, GraderObject, by_type, invalid, tag
from mockft.graders.formula import FormulaError, evaluate_formula, formula_names, parse_formula
from mockft.graders.model import LabelModelGrader, ScoreModelGrader
from mockft.graders.outcome import LOCAL_GRADER_SECONDS, OTHER_ERROR, Outcome, TokenUsage
from mockft.graders.python import PythonGrader
from mockft.graders.string_check import StringCheckGrader
from mockft.graders.text_similarity import TextSimilarityGrader

SubGrader: TypeAlias = Annotated[
    Annotated[StringCheckGrader, Tag(tag("string_check"))]
    | Annotated[TextSimilarityGrader, Tag(tag("text_similarity"))]
    | Annotated[PythonGrader, Tag(tag("python"))]
    | Annotated[ScoreModelGrader, Tag(tag("score_model"))]
    | Annotated[LabelModelGrader, Tag(tag("label_model"))],
    by_type(SUB_GRADER_UNION),
]


class MultiGrader(GraderObject):
    type: Literal["multi"]
    name: str | None = None
    graders: dict[str, SubGrader]
    calculate_output: str


def check(grader: MultiGrader, param: str) -> None:
    """The formula, and that there is something for it to combine. (The sub-graders are
    checked by the caller, which knows every kind.)"""
    if not grader.graders:
        raise invalid(f"{param}.graders", "expected at least one grader.")
    where = f"{param}.calculate_output"
    try:
        formula = parse_formula(grader.calculate_output)
    except FormulaError as exc:
        raise invalid(where, str(exc)) from None
    unknown = sorted(formula_names(formula) - set(grader.graders))
    if unknown:
        known = ", ".join(f"'{k}'" for k in grader.graders)
        raise invalid(where, f"unknown grader '{unknown[0]}'; the formula can use {known}.")


def combine(grader: MultiGrader, results: Mapping[str, Outcome]) -> Outcome:
    """The multi grader's outcome from its sub-graders' outcomes, by name."""
    sub_rewards = {key: result.reward for key, result in results.items()}
    usage: dict[str, TokenUsage] = {}
    for result in results.values():
        for model, used in result.usage.items():
            usage[model] = usage[model] + used if model in usage else used
    flags = frozenset().union(*(result.errors for result in results.values()))
    seconds = sum(result.seconds for result in results.values()) + LOCAL_GRADER_SECONDS
    try:
        reward = evaluate_formula(parse_formula(grader.calculate_output), sub_rewards)
    except FormulaError:
        reward, flags = 0.0, flags | {OTHER_ERROR}
    return Outcome(reward, seconds, flags, usage, None, sub_rewards)
