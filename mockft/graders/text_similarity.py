"""``text_similarity``: one of the metrics of `mockft.graders.similarity` between the
rendered input and reference. ``pass_threshold`` (in the graders guide's examples) is
accepted and has no effect on the reward."""

from __future__ import annotations

from typing import Literal

from mockft.graders.base import Finite, GraderObject
from mockft.graders.outcome import Outcome, local
from mockft.graders.similarity import similarity
from mockft.graders.templates import Namespaces, check_templates, render_template


class TextSimilarityGrader(GraderObject):
    type: Literal["text_similarity"]
    name: str | None = None
    input: str
    reference: str
    evaluation_metric: Literal[
        "cosine", "fuzzy_match", "bleu", "gleu", "meteor",
        "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
    ]  # fmt: skip
    pass_threshold: Finite | None = None


def check(grader: TextSimilarityGrader, param: str) -> None:
    check_templates(param, input=grader.input, reference=grader.reference)


def score(grader: TextSimilarityGrader, namespaces: Namespaces) -> Outcome:
    given = render_template(grader.input, namespaces)
    reference = render_template(grader.reference, namespaces)
    return local(similarity(grader.evaluation_metric, given, reference))
