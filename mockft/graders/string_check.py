"""``string_check``: ``eq`` input == reference; ``ne`` input != reference; ``like`` input
contains reference; ``ilike`` the same, ignoring case. 1.0 or 0.0."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

from mockft.graders.base import GraderObject
from mockft.graders.outcome import Outcome, local
from mockft.graders.templates import Namespaces, check_templates, render_template

STRING_CHECK_OPERATIONS: Final = ("eq", "ne", "like", "ilike")


class StringCheckGrader(GraderObject):
    type: Literal["string_check"]
    name: str | None = None
    input: str
    reference: str
    operation: Literal["eq", "ne", "like", "ilike"]


def check(grader: StringCheckGrader, param: str) -> None:
    check_templates(param, input=grader.input, reference=grader.reference)


def score(grader: StringCheckGrader, namespaces: Namespaces) -> Outcome:
    given = render_template(grader.input, namespaces)
    reference = render_template(grader.reference, namespaces)
    checks: dict[str, Callable[[], bool]] = {
        "eq": lambda: given == reference,
        "ne": lambda: given != reference,
        "like": lambda: reference in given,
        "ilike": lambda: reference.lower() in given.lower(),
    }
    return local(1.0 if checks[grader.operation]() else 0.0)
