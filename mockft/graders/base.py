"""What every grader kind shares: the strict object base, the tags of the discriminated
unions, and the error a grader the types accept can still have."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final, TypeAlias

from pydantic import BaseModel, ConfigDict, Discriminator, Field

GRADER_TYPES: Final = ("string_check", "text_similarity", "python", "score_model", "multi")
SUB_GRADER_TYPES: Final = (
    "string_check", "text_similarity", "python", "score_model", "label_model",
)  # fmt: skip
CONTENT_PART_TYPES: Final = ("input_text", "output_text", "input_image", "input_audio")

# Tags of pydantic's discriminated unions start with this mark so that error locations can
# drop them: `grader.graders.name.operation`, not `grader.<multi>.graders...`.
TAG_MARK: Final = "\x00"
# The error type of each union whose tag does not match: the allowed `type` values (none: the
# value's JSON type picks the branch) and what the value should have been.
GRADER_UNION: Final = "mockft_grader"
SUB_GRADER_UNION: Final = "mockft_sub_grader"
PART_UNION: Final = "mockft_content_part"
CONTENT_UNION: Final = "mockft_content"
CONTENT_ITEM_UNION: Final = "mockft_content_item"
UNION_ERRORS: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    GRADER_UNION: (GRADER_TYPES, "an object"),
    SUB_GRADER_UNION: (SUB_GRADER_TYPES, "an object"),
    PART_UNION: (CONTENT_PART_TYPES, "an object"),
    CONTENT_UNION: ((), "a string, an object or an array"),
    CONTENT_ITEM_UNION: ((), "a string or an object"),
}

# Python's json reads `Infinity` and `NaN`; a grader holding one would be echoed as non-JSON.
Finite: TypeAlias = Annotated[float, Field(allow_inf_nan=False)]


class GraderObject(BaseModel):
    """A part of a grader as the API takes it: strict types, no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True)


class GraderError(ValueError):
    """A grader the types accept but the API refuses: what is wrong, and where."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def invalid(param: str, problem: str) -> GraderError:
    """``Invalid 'param': problem``, the real API's wording for a value it refuses."""
    return GraderError(f"Invalid '{param}': {problem}", param)


def tag(name: str) -> str:
    return TAG_MARK + name


def is_tag(part: int | str) -> bool:
    return isinstance(part, str) and part.startswith(TAG_MARK)


def _tag_by_type(allowed: Sequence[str]) -> Callable[[Any], str | None]:
    def choose(value: Any) -> str | None:
        # a dict when parsing; a model instance when serialising
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        return tag(kind) if isinstance(kind, str) and kind in allowed else None

    return choose


def by_type(error_type: str) -> Discriminator:
    """The discriminator of a union chosen by the value's ``type``."""
    allowed, _ = UNION_ERRORS[error_type]
    return Discriminator(
        _tag_by_type(allowed), custom_error_type=error_type, custom_error_message=error_type
    )


def grader_api(grader: GraderObject) -> dict[str, Any]:
    """The normalised grader, as validate answers it: what was given, with ``name`` filled in
    and numbers as numbers."""
    body: dict[str, Any] = grader.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    return body
