"""A grader object from JSON: the types (pydantic), then what the types cannot say.

The five top-level types of OpenAI's OpenAPI description (``string_check``,
``text_similarity``, ``python``, ``score_model``, ``multi``) and, only inside a ``multi``,
``label_model``. ``name`` may be left out (the graders guide's own python and multi examples
do); it then defaults to the sub-grader's key inside a ``multi``, else to the grader's type,
and the normalised grader (validate's answer) carries it.

Pure: a value the types refuse raises pydantic's ``ValidationError`` (its locations hold
union tags, `mockft.graders.base.is_tag`), one they accept but the API refuses raises
`GraderError`; the service words both as the real API does.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

from pydantic import Tag, TypeAdapter

from mockft.graders import model, multi, python, string_check, text_similarity
from mockft.graders.base import GRADER_UNION, by_type, tag
from mockft.graders.model import LabelModelGrader, ScoreModelGrader
from mockft.graders.multi import MultiGrader
from mockft.graders.python import PythonGrader
from mockft.graders.string_check import StringCheckGrader
from mockft.graders.text_similarity import TextSimilarityGrader

Grader: TypeAlias = Annotated[
    Annotated[StringCheckGrader, Tag(tag("string_check"))]
    | Annotated[TextSimilarityGrader, Tag(tag("text_similarity"))]
    | Annotated[PythonGrader, Tag(tag("python"))]
    | Annotated[ScoreModelGrader, Tag(tag("score_model"))]
    | Annotated[MultiGrader, Tag(tag("multi"))],
    by_type(GRADER_UNION),
]
AnyGrader: TypeAlias = (
    StringCheckGrader
    | TextSimilarityGrader
    | PythonGrader
    | ScoreModelGrader
    | LabelModelGrader
    | MultiGrader
)

GRADER_ADAPTER: TypeAdapter[AnyGrader] = TypeAdapter(Grader)


def parse_grader(data: object, param: str = "grader") -> AnyGrader:
    """A checked grader; `ValidationError` or `GraderError` (naming ``param`` and the path
    below it) if it is not one."""
    grader = GRADER_ADAPTER.validate_python(data)
    check_grader(grader, param)
    return grader


def check_grader(grader: AnyGrader, param: str, default_name: str | None = None) -> None:
    """What the types cannot say: templates, Python source, ranges, labels, the formula. Also
    fills in a missing ``name``."""
    if grader.name is None:
        grader.name = default_name or grader.type
    if isinstance(grader, StringCheckGrader):
        string_check.check(grader, param)
    elif isinstance(grader, TextSimilarityGrader):
        text_similarity.check(grader, param)
    elif isinstance(grader, PythonGrader):
        python.check(grader, param)
    elif isinstance(grader, ScoreModelGrader | LabelModelGrader):
        model.check(grader, param)
    else:
        for key, sub in grader.graders.items():
            check_grader(sub, f"{param}.graders.{key}", default_name=key)
        multi.check(grader, param)
