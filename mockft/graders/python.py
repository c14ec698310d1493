"""``python``: checked, never run.

The source is never executed (running users' code is not a mock's job and would make a
shared mockft a remote-code-execution service). Validate checks what can be checked without
running it: at most 256 kB, parses as Python, defines a top-level ``grade`` taking two
arguments (``sample``, ``item``). Run returns a stand-in reward: a deterministic number in
[0, 1] from a hash of the source, sample and item, with no error flags, so a pipeline sees the
real response shape and stable values. It is *not* what ``grade`` would return.
"""

from __future__ import annotations

import ast
from typing import Final, Literal

from mockft.graders.base import GraderObject, invalid
from mockft.graders.outcome import STAND_IN_DECIMALS, Outcome, unit
from mockft.graders.templates import Namespaces

MAX_PYTHON_SOURCE_BYTES: Final = 256 * 1024  # "must be less than 256kB" (graders guide)
GRADE_FUNCTION: Final = "grade"
GRADE_ARGUMENTS: Final = 2
PYTHON_GRADER_SECONDS: Final = 0.25


class PythonGrader(GraderObject):
    type: Literal["python"]
    name: str | None = None
    source: str
    image_tag: str | None = None


def check(grader: PythonGrader, param: str) -> None:
    where = f"{param}.source"
    source = grader.source
    size = len(source.encode())
    if size > MAX_PYTHON_SOURCE_BYTES:
        raise invalid(
            where,
            f"the source is {size} bytes; the limit is {MAX_PYTHON_SOURCE_BYTES} bytes (256 kB).",
        )
    try:
        module = ast.parse(source)  # parsing only: nothing in the source runs
    except SyntaxError as exc:
        raise invalid(
            where,
            f"the source is not valid Python: {exc.msg} (line {exc.lineno}, column {exc.offset}).",
        ) from None
    except (ValueError, RecursionError, MemoryError):
        raise invalid(where, "the source is not valid Python.") from None
    if not any(_is_grade_function(node) for node in module.body):
        raise invalid(
            where,
            f"the source must define a top-level function `{GRADE_FUNCTION}(sample, item)` "
            f"that can be called with {GRADE_ARGUMENTS} arguments and returns a float.",
        )


def _is_grade_function(node: ast.stmt) -> bool:
    """A plain top-level ``def grade`` that can be called as ``grade(sample, item)``."""
    if not isinstance(node, ast.FunctionDef) or node.name != GRADE_FUNCTION:
        return False
    args = node.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    takes_two = required <= GRADE_ARGUMENTS and (
        positional >= GRADE_ARGUMENTS or args.vararg is not None
    )
    required_keywords = any(default is None for default in args.kw_defaults)
    return takes_two and not required_keywords


def score(grader: PythonGrader, namespaces: Namespaces) -> Outcome:
    reward = unit("python", grader.source, namespaces.model_sample, dict(namespaces.item))
    return Outcome(round(reward, STAND_IN_DECIMALS), PYTHON_GRADER_SECONDS)
