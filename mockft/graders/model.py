"""``score_model`` and ``label_model``: graders that ask a model, which is not there offline.

``score_model``: the reward is a deterministic number within ``range`` (default [0, 1]) from a
hash of the grader, rendered messages, sample and item (so ``sampling_params.seed`` changes
it); prompt tokens are counted from the rendered messages (``mockft.tokens``), completion
tokens are simulated; usage is reported per model. ``pass_threshold`` is accepted and has no
effect on the reward. ``label_model`` (only inside ``multi``): a label drawn the same way from
``labels``; reward 1.0 if it is one of ``passing_labels``, else 0.0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import BaseModel, Discriminator, Field, Tag

from mockft import tokens
from mockft.graders.base import (
    CONTENT_ITEM_UNION,
    CONTENT_UNION,
    PART_UNION,
    Finite,
    GraderObject,
    by_type,
    grader_api,
    invalid,
    tag,
)
from mockft.graders.outcome import STAND_IN_DECIMALS, Outcome, TokenUsage, unit
from mockft.graders.templates import Namespaces, check_template, render_template

DEFAULT_SCORE_RANGE: Final = (0.0, 1.0)
MODEL_GRADER_BASE_SECONDS: Final = 1.2
MODEL_GRADER_SECONDS_PER_COMPLETION_TOKEN: Final = 0.02
MODEL_COMPLETION_TOKENS_MIN: Final = 40
MODEL_COMPLETION_TOKENS_SPREAD: Final = 160


class InputTextPart(GraderObject):
    type: Literal["input_text"]
    text: str
    prompt_cache_breakpoint: dict[str, Any] | None = None


class OutputTextPart(GraderObject):
    type: Literal["output_text"]
    text: str


class InputImagePart(GraderObject):
    type: Literal["input_image"]
    image_url: str
    detail: str | None = None
    file_id: str | None = None


class AudioData(GraderObject):
    data: str
    format: Literal["mp3", "wav"]


class InputAudioPart(GraderObject):
    type: Literal["input_audio"]
    input_audio: AudioData


ContentPart: TypeAlias = Annotated[
    Annotated[InputTextPart, Tag(tag("input_text"))]
    | Annotated[OutputTextPart, Tag(tag("output_text"))]
    | Annotated[InputImagePart, Tag(tag("input_image"))]
    | Annotated[InputAudioPart, Tag(tag("input_audio"))],
    by_type(PART_UNION),
]
TEXT_TAG: Final = tag("text")
PART_TAG: Final = tag("part")
PARTS_TAG: Final = tag("parts")


def _content_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return TEXT_TAG
    if isinstance(value, dict | BaseModel):  # a model instance when serialising
        return PART_TAG
    if isinstance(value, list):
        return PARTS_TAG
    return None


def _content_union(error_type: str) -> Discriminator:
    return Discriminator(
        _content_tag, custom_error_type=error_type, custom_error_message=error_type
    )


ContentItem: TypeAlias = Annotated[
    Annotated[str, Tag(TEXT_TAG)] | Annotated[ContentPart, Tag(PART_TAG)],
    _content_union(CONTENT_ITEM_UNION),
]
Content: TypeAlias = Annotated[
    Annotated[str, Tag(TEXT_TAG)]
    | Annotated[ContentPart, Tag(PART_TAG)]
    | Annotated[list[ContentItem], Tag(PARTS_TAG)],
    _content_union(CONTENT_UNION),
]


class EvalMessage(GraderObject):
    role: Literal["user", "assistant", "system", "developer"]
    content: Content
    type: Literal["message"] | None = None


ReasoningEffort: TypeAlias = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class SamplingParams(GraderObject):
    seed: int | None = None
    top_p: Finite | None = None
    temperature: Finite | None = None
    max_completions_tokens: Annotated[int, Field(ge=1)] | None = None
    reasoning_effort: ReasoningEffort | None = None


class ScoreModelGrader(GraderObject):
    type: Literal["score_model"]
    name: str | None = None
    model: str
    input: list[EvalMessage]
    sampling_params: SamplingParams | None = None
    range: list[Finite] | None = None
    pass_threshold: Finite | None = None


class LabelModelGrader(GraderObject):
    type: Literal["label_model"]
    name: str | None = None
    model: str
    input: list[EvalMessage]
    labels: list[str]
    passing_labels: list[str]


ModelGrader: TypeAlias = ScoreModelGrader | LabelModelGrader


def check(grader: ModelGrader, param: str) -> None:
    if not grader.input:
        raise invalid(f"{param}.input", "expected at least one message.")
    for index, message in enumerate(grader.input):
        for where, text in _message_texts(message, f"{param}.input[{index}].content"):
            check_template(text, where)
    if isinstance(grader, ScoreModelGrader):
        if grader.range is not None:
            low_high = grader.range
            if len(low_high) != 2 or not low_high[0] < low_high[1]:
                raise invalid(
                    f"{param}.range",
                    "expected two numbers [min, max] with min < max, but got "
                    f"{json.dumps(low_high)} instead.",
                )
        return
    if not grader.labels:
        raise invalid(f"{param}.labels", "expected at least one label.")
    unknown = [label for label in grader.passing_labels if label not in grader.labels]
    if not grader.passing_labels or unknown:
        raise invalid(
            f"{param}.passing_labels",
            "expected a non-empty subset of 'labels', but got "
            f"{json.dumps(grader.passing_labels)} instead.",
        )


def _message_texts(message: EvalMessage, param: str) -> Iterator[tuple[str, str]]:
    """Each templated text of a message, with where it sits."""
    content = message.content
    if isinstance(content, str):
        yield param, content
    elif isinstance(content, InputTextPart | OutputTextPart):
        yield f"{param}.text", content.text
    elif isinstance(content, list):
        for index, item in enumerate(content):
            if isinstance(item, str):
                yield f"{param}[{index}]", item
            elif isinstance(item, InputTextPart | OutputTextPart):
                yield f"{param}[{index}].text", item.text


def score(grader: ModelGrader, namespaces: Namespaces) -> Outcome:
    messages = _rendered_messages(grader.input, namespaces)
    seed = (grader_api(grader), messages, namespaces.model_sample, dict(namespaces.item))
    spread = unit("completion_tokens", *seed)
    completion = MODEL_COMPLETION_TOKENS_MIN + int(spread * MODEL_COMPLETION_TOKENS_SPREAD)
    usage = TokenUsage(tokens.count_messages(messages), completion)
    seconds = MODEL_GRADER_BASE_SECONDS + completion * MODEL_GRADER_SECONDS_PER_COMPLETION_TOKEN
    draw = unit("reward", *seed)
    if isinstance(grader, ScoreModelGrader):
        low, high = grader.range or DEFAULT_SCORE_RANGE
        # a convex combination: finite for any finite range, however wide
        reward = round(low * (1 - draw) + high * draw, STAND_IN_DECIMALS)
    else:
        label = grader.labels[int(draw * len(grader.labels))]
        reward = 1.0 if label in grader.passing_labels else 0.0
    return Outcome(reward, seconds, usage={grader.model: usage}, sampled_model=grader.model)


def _rendered_messages(
    messages: Sequence[EvalMessage], namespaces: Namespaces
) -> list[dict[str, Any]]:
    rendered = []
    for message in messages:
        content = message.content
        if isinstance(content, str):
            body: object = render_template(content, namespaces)
        elif isinstance(content, list):
            body = [_rendered_part(part, namespaces) for part in content]
        else:
            body = [_rendered_part(content, namespaces)]
        rendered.append({"role": message.role, "content": body})
    return rendered


def _rendered_part(part: str | BaseModel, namespaces: Namespaces) -> object:
    if isinstance(part, str):
        return {"type": "input_text", "text": render_template(part, namespaces)}
    data = part.model_dump(mode="json", exclude_none=True)
    if isinstance(part, InputTextPart | OutputTextPart):
        data["text"] = render_template(part.text, namespaces)
    return data
