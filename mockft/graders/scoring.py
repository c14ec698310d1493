"""Running a checked grader: its outcome, and the RunGraderResponse body.

The same grader, sample and item always give the same response, byte for byte. A variable
that does not resolve gives reward 0 with ``metadata.errors.invalid_variable_error``;
reading ``output_json`` of a sample that is not JSON gives reward 0 with
``sample_parse_error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mockft.graders import model, multi, python, string_check, text_similarity
from mockft.graders.model import LabelModelGrader, ScoreModelGrader
from mockft.graders.outcome import (
    ERROR_DETAILS,
    ERROR_FIELDS,
    INVALID_VARIABLE_ERROR,
    SAMPLE_PARSE_ERROR,
    Outcome,
    failed,
)
from mockft.graders.parsing import AnyGrader
from mockft.graders.python import PythonGrader
from mockft.graders.string_check import StringCheckGrader
from mockft.graders.templates import Namespaces, SampleParseError, VariableError
from mockft.graders.text_similarity import TextSimilarityGrader

EXECUTION_TIME_DECIMALS: Final = 6


def run(
    grader: AnyGrader, model_sample: str, item: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The RunGraderResponse body for a parsed, checked grader."""
    result = outcome(grader, Namespaces(model_sample, item or {}))
    usage = result.usage
    return {
        "reward": result.reward,
        "metadata": {
            "name": grader.name or grader.type,
            "type": grader.type,
            "errors": {
                name: None if name in ERROR_DETAILS else name in result.errors
                for name in ERROR_FIELDS
            },
            "execution_time": round(result.seconds, EXECUTION_TIME_DECIMALS),
            "scores": dict(result.sub_rewards),
            "token_usage": sum(u.total_tokens for u in usage.values()) if usage else None,
            "sampled_model_name": result.sampled_model,
        },
        "sub_rewards": dict(result.sub_rewards),
        "model_grader_token_usage_per_model": {m: u.api() for m, u in usage.items()},
    }


def outcome(grader: AnyGrader, namespaces: Namespaces) -> Outcome:
    try:
        if isinstance(grader, StringCheckGrader):
            return string_check.score(grader, namespaces)
        if isinstance(grader, TextSimilarityGrader):
            return text_similarity.score(grader, namespaces)
        if isinstance(grader, PythonGrader):
            return python.score(grader, namespaces)
        if isinstance(grader, ScoreModelGrader | LabelModelGrader):
            return model.score(grader, namespaces)
        results = {key: outcome(sub, namespaces) for key, sub in grader.graders.items()}
        return multi.combine(grader, results)
    except VariableError:
        return failed(INVALID_VARIABLE_ERROR)
    except SampleParseError:
        return failed(SAMPLE_PARSE_ERROR)
