"""Graders (alpha): the grader objects of reinforcement fine-tuning, parsed strictly and
scored deterministically, offline.

Pure: no HTTP, no storage, no clock. The same grader, sample and item always give the same
response, byte for byte.

Grader objects
--------------
The five top-level types of OpenAI's OpenAPI description (``string_check``,
``text_similarity``, ``python``, ``score_model``, ``multi``) and, only inside a ``multi``,
``label_model``. Two places follow the real API and OpenAI's graders guide rather than the
description, which disagrees with both:

- ``multi.graders`` is a mapping from a name to a grader; ``calculate_output`` refers to the
  sub-graders by those names (``"(name + email) / 2"``). The description types it as one
  grader, but the real API answers that shape with ``Invalid type for 'graders.input':
  expected an object, but got a string instead``, which mockft reproduces.
- ``name`` may be left out (the guide's own python and multi examples do); it then defaults to
  the sub-grader's key inside a ``multi``, else to the grader's type, and the normalised grader
  (validate's answer) carries it. ``pass_threshold`` (in the guide's examples) is accepted on
  ``text_similarity`` and ``score_model`` and has no effect on the reward.

Templates
---------
``{{ namespace.variable }}`` with the namespaces ``item`` (the request's ``item``) and
``sample``; nested values by JSON-path-like access: ``{{ item.answer.city }}``,
``{{ sample.output_json.names[0] }}``. ``sample`` offers ``output_text`` (``model_sample``)
and ``output_json`` (``model_sample`` parsed, when it is JSON). ``output_tools``, ``choices``
and ``output_audio`` are valid names (validate accepts them) but a text sample has none of
them, so a run that reads them reports ``invalid_variable_error``. A value that is not a string
is inserted as compact JSON (``1.5``, ``true``, ``{"a":1}``). A variable that does not resolve
gives reward 0 with ``metadata.errors.invalid_variable_error``; reading ``output_json`` of a
sample that is not JSON gives reward 0 with ``sample_parse_error``. An unknown namespace or a
malformed variable is a 400 at validate and at run.

string_check
------------
``eq``: input == reference; ``ne``: input != reference; ``like``: input contains reference;
``ilike``: the same, ignoring case. 1.0 or 0.0.

text_similarity (documented approximations; the real service uses libraries)
----------------------------------------------------------------------------
Every metric but ``fuzzy_match`` works on words: the text lower-cased, split into runs of
word characters (``\\w+``). Results lie in [0, 1].

- ``fuzzy_match``: rapidfuzz's ``fuzz.ratio`` / 100 (the guide says the real service uses
  rapidfuzz), computed here without it: 2·LCS / (len(input) + len(reference)) over the raw
  characters, case-sensitive; 1.0 for two empty strings.
- ``bleu``: sentence BLEU-4, uniform weights, clipped n-gram precision; orders 2-4 use
  Lin & Och add-one smoothing ((m + 1) / (c + 1)); brevity penalty exp(1 - r/c) when the input
  is shorter than the reference.
- ``gleu``: Google-BLEU (Wu et al. 2016): all 1- to 4-grams pooled, min(precision, recall).
- ``meteor``: exact unigram matches only (no stems or synonyms), aligned greedily left to
  right; Fmean = 10PR / (R + 9P), fragmentation penalty 0.5 · (chunks / matches)³.
- ``rouge_1`` … ``rouge_5``: n-gram overlap F1; ``rouge_l``: longest-common-subsequence F1.
- ``cosine``: cosine of bag-of-words term-frequency vectors. The real service embeds both texts
  with ``text-embedding-3-large``; embeddings are not available offline, so this is lexical
  similarity only (synonyms score 0).

Every metric is linear in the text length except the LCS (``fuzzy_match``, ``rouge_l``), which
is bit-parallel, so long samples stay fast.

Graders mockft cannot run offline
---------------------------------
- ``python``: the source is never executed (running users' code is not a mock's job and would
  make a shared mockft a remote-code-execution service). Validate checks what can be checked
  without running it: at most 256 kB, parses as Python, defines a top-level ``grade`` taking
  two arguments (``sample``, ``item``). Run returns a stand-in reward: a deterministic number in
  [0, 1] from a hash of the source, sample and item, with no error flags, so a pipeline sees
  the real response shape and stable values. It is *not* what ``grade`` would return.
- ``score_model``: no model offline. The reward is a deterministic number within ``range``
  (default [0, 1]) from a hash of the grader, rendered messages, sample and item (so
  ``sampling_params.seed`` changes it); prompt tokens are counted from the rendered messages
  (``mockft.tokens``), completion tokens are simulated; usage is reported per model.
- ``label_model`` (inside ``multi``): a label drawn the same way from ``labels``; reward 1.0 if it
  is one of ``passing_labels``, else 0.0.

multi
-----
Each sub-grader runs; ``sub_rewards`` and ``metadata.scores`` map each name to its reward and
``calculate_output`` combines them. The formula language (parsed here, never ``eval``-ed):
numbers, the sub-grader names, ``+ - * / ^`` (``^`` is power, right-associative), unary
``+``/``-``, parentheses, and the functions ``min``, ``max`` (one or more arguments), ``abs``,
``floor``, ``ceil``, ``exp``, ``sqrt``, ``log`` (natural). A formula that does not parse or
names an unknown grader is a 400 at validate; one that fails while computing (division by
zero, ``sqrt`` of a negative, overflow) gives reward 0 with ``metadata.errors.other_error``.

``execution_time`` is simulated and deterministic (no grader really runs).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

from pydantic import BaseModel, Discriminator, Field, Tag, TypeAdapter, ValidationError

from mockft import errors, tokens
from mockft.schemas import Request, from_validation_error, json_type_name

# -- types and limits ----------------------------------------------------------------------

GRADER_TYPES = ("string_check", "text_similarity", "python", "score_model", "multi")
SUB_GRADER_TYPES = ("string_check", "text_similarity", "python", "score_model", "label_model")
CONTENT_PART_TYPES = ("input_text", "output_text", "input_image", "input_audio")
STRING_CHECK_OPERATIONS = ("eq", "ne", "like", "ilike")
EVALUATION_METRICS = (
    "cosine", "fuzzy_match", "bleu", "gleu", "meteor",
    "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
)  # fmt: skip
NAMESPACES = ("item", "sample")
SAMPLE_VARIABLES = ("output_text", "output_json", "output_tools", "choices", "output_audio")
MAX_PYTHON_SOURCE_BYTES = 256 * 1024  # "must be less than 256kB" (graders guide)
GRADE_FUNCTION = "grade"
GRADE_ARGUMENTS = 2
DEFAULT_SCORE_RANGE = (0.0, 1.0)
MAX_FORMULA_LENGTH = 4096
MAX_FORMULA_DEPTH = 64  # nesting of parentheses, calls, unary signs and powers

BLEU_MAX_ORDER = 4
GLEU_MAX_ORDER = 4
METEOR_RECALL_WEIGHT = 9.0  # Fmean = 10PR / (R + 9P)
METEOR_PENALTY_WEIGHT = 0.5
METEOR_PENALTY_EXPONENT = 3
ROUGE_ORDERS = {"rouge_1": 1, "rouge_2": 2, "rouge_3": 3, "rouge_4": 4, "rouge_5": 5}
WORD = re.compile(r"\w+")

# Stand-in values for graders that cannot run offline, and simulated execution times.
STAND_IN_DECIMALS = 4
EXECUTION_TIME_DECIMALS = 6
LOCAL_GRADER_SECONDS = 0.002
PYTHON_GRADER_SECONDS = 0.25
MODEL_GRADER_BASE_SECONDS = 1.2
MODEL_GRADER_SECONDS_PER_COMPLETION_TOKEN = 0.02
MODEL_COMPLETION_TOKENS_MIN = 40
MODEL_COMPLETION_TOKENS_SPREAD = 160

# RunGraderResponse.metadata.errors in the spec's order: flags (booleans) and the detail
# fields (strings or null; always null here, since nothing runs remotely).
INVALID_VARIABLE_ERROR = "invalid_variable_error"
SAMPLE_PARSE_ERROR = "sample_parse_error"
OTHER_ERROR = "other_error"
ERROR_FIELDS = (
    "formula_parse_error", SAMPLE_PARSE_ERROR, "truncated_observation_error",
    "unresponsive_reward_error", INVALID_VARIABLE_ERROR, OTHER_ERROR,
    "python_grader_server_error", "python_grader_server_error_type",
    "python_grader_runtime_error", "python_grader_runtime_error_details",
    "model_grader_server_error", "model_grader_refusal_error", "model_grader_parse_error",
    "model_grader_server_error_details",
)  # fmt: skip
ERROR_DETAILS = frozenset(
    {
        "python_grader_server_error_type",
        "python_grader_runtime_error_details",
        "model_grader_server_error_details",
    }
)

# Tags of pydantic's discriminated unions start with this mark so that error locations can
# drop them: `grader.graders.name.operation`, not `grader.<multi>.graders...`.
TAG_MARK = "\x00"
# The error type of each union whose tag does not match: the allowed `type` values (none: the
# value's JSON type picks the branch) and what the value should have been.
GRADER_UNION = "mockft_grader"
SUB_GRADER_UNION = "mockft_sub_grader"
PART_UNION = "mockft_content_part"
CONTENT_UNION = "mockft_content"
CONTENT_ITEM_UNION = "mockft_content_item"
UNION_ERRORS: dict[str, tuple[tuple[str, ...], str]] = {
    GRADER_UNION: (GRADER_TYPES, "an object"),
    SUB_GRADER_UNION: (SUB_GRADER_TYPES, "an object"),
    PART_UNION: (CONTENT_PART_TYPES, "an object"),
    CONTENT_UNION: ((), "a string, an object or an array"),
    CONTENT_ITEM_UNION: ((), "a string or an object"),
}

# -- grader objects --------------------------------------------------------------------------


def _tag(name: str) -> str:
    return TAG_MARK + name


def _tag_by_type(allowed: Sequence[str]) -> Callable[[Any], str | None]:
    def choose(value: Any) -> str | None:
        # a dict when parsing; a model instance when serialising
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        return _tag(kind) if isinstance(kind, str) and kind in allowed else None

    return choose


def _by_type(error_type: str) -> Discriminator:
    allowed, _ = UNION_ERRORS[error_type]
    return Discriminator(
        _tag_by_type(allowed), custom_error_type=error_type, custom_error_message=error_type
    )


# Python's json reads `Infinity` and `NaN`; a grader holding one would be echoed as non-JSON.
Finite: TypeAlias = Annotated[float, Field(allow_inf_nan=False)]


class InputTextPart(Request):
    type: Literal["input_text"]
    text: str
    prompt_cache_breakpoint: dict[str, Any] | None = None


class OutputTextPart(Request):
    type: Literal["output_text"]
    text: str


class InputImagePart(Request):
    type: Literal["input_image"]
    image_url: str
    detail: str | None = None
    file_id: str | None = None


class AudioData(Request):
    data: str
    format: Literal["mp3", "wav"]


class InputAudioPart(Request):
    type: Literal["input_audio"]
    input_audio: AudioData


ContentPart: TypeAlias = Annotated[
    Annotated[InputTextPart, Tag(_tag("input_text"))]
    | Annotated[OutputTextPart, Tag(_tag("output_text"))]
    | Annotated[InputImagePart, Tag(_tag("input_image"))]
    | Annotated[InputAudioPart, Tag(_tag("input_audio"))],
    _by_type(PART_UNION),
]
TEXT_TAG = _tag("text")
PART_TAG = _tag("part")
PARTS_TAG = _tag("parts")


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


class EvalMessage(Request):
    role: Literal["user", "assistant", "system", "developer"]
    content: Content
    type: Literal["message"] | None = None


ReasoningEffort: TypeAlias = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class SamplingParams(Request):
    seed: int | None = None
    top_p: Finite | None = None
    temperature: Finite | None = None
    max_completions_tokens: Annotated[int, Field(ge=1)] | None = None
    reasoning_effort: ReasoningEffort | None = None


class StringCheckGrader(Request):
    type: Literal["string_check"]
    name: str | None = None
    input: str
    reference: str
    operation: Literal["eq", "ne", "like", "ilike"]


class TextSimilarityGrader(Request):
    type: Literal["text_similarity"]
    name: str | None = None
    input: str
    reference: str
    evaluation_metric: Literal[
        "cosine", "fuzzy_match", "bleu", "gleu", "meteor",
        "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
    ]  # fmt: skip
    pass_threshold: Finite | None = None


class PythonGrader(Request):
    type: Literal["python"]
    name: str | None = None
    source: str
    image_tag: str | None = None


class ScoreModelGrader(Request):
    type: Literal["score_model"]
    name: str | None = None
    model: str
    input: list[EvalMessage]
    sampling_params: SamplingParams | None = None
    range: list[Finite] | None = None
    pass_threshold: Finite | None = None


class LabelModelGrader(Request):
    type: Literal["label_model"]
    name: str | None = None
    model: str
    input: list[EvalMessage]
    labels: list[str]
    passing_labels: list[str]


SubGrader: TypeAlias = Annotated[
    Annotated[StringCheckGrader, Tag(_tag("string_check"))]
    | Annotated[TextSimilarityGrader, Tag(_tag("text_similarity"))]
    | Annotated[PythonGrader, Tag(_tag("python"))]
    | Annotated[ScoreModelGrader, Tag(_tag("score_model"))]
    | Annotated[LabelModelGrader, Tag(_tag("label_model"))],
    _by_type(SUB_GRADER_UNION),
]


class MultiGrader(Request):
    type: Literal["multi"]
    name: str | None = None
    graders: dict[str, SubGrader]
    calculate_output: str


Grader: TypeAlias = Annotated[
    Annotated[StringCheckGrader, Tag(_tag("string_check"))]
    | Annotated[TextSimilarityGrader, Tag(_tag("text_similarity"))]
    | Annotated[PythonGrader, Tag(_tag("python"))]
    | Annotated[ScoreModelGrader, Tag(_tag("score_model"))]
    | Annotated[MultiGrader, Tag(_tag("multi"))],
    _by_type(GRADER_UNION),
]
AnyGrader: TypeAlias = (
    StringCheckGrader
    | TextSimilarityGrader
    | PythonGrader
    | ScoreModelGrader
    | LabelModelGrader
    | MultiGrader
)
ModelGrader: TypeAlias = ScoreModelGrader | LabelModelGrader


class ValidateGraderRequest(Request):
    grader: Grader


class RunGraderRequest(Request):
    grader: Grader
    model_sample: str
    item: dict[str, Any] | None = None


# -- parsing: pydantic's verdict in OpenAI's words, then the checks pydantic cannot make --------

_GRADER_ADAPTER: TypeAdapter[AnyGrader] = TypeAdapter(Grader)


def parse_validate_request(body: dict[str, Any]) -> ValidateGraderRequest:
    request = _validated(lambda: ValidateGraderRequest.model_validate(body), ())
    check_grader(request.grader, "grader")
    return request


def parse_run_request(body: dict[str, Any]) -> RunGraderRequest:
    request = _validated(lambda: RunGraderRequest.model_validate(body), ())
    check_grader(request.grader, "grader")
    return request


def parse_grader(data: object, param: str = "grader") -> AnyGrader:
    """A grader from anywhere (e.g. a reinforcement job's ``method.reinforcement.grader``);
    errors name ``param`` and the path below it."""
    grader = _validated(lambda: _GRADER_ADAPTER.validate_python(data), tuple(param.split(".")))
    check_grader(grader, param)
    return grader


T = TypeVar("T")


def _validated(validate: Callable[[], T], prefix: tuple[str, ...]) -> T:
    try:
        return validate()
    except ValidationError as exc:
        raise _api_error(exc, prefix) from None


def _api_error(exc: ValidationError, prefix: tuple[str, ...]) -> errors.APIError:
    found: list[dict[str, Any]] = []
    for error in exc.errors(include_url=False):
        loc = (*prefix, *(p for p in error["loc"] if not _is_tag(p)))
        found.append({**error, "loc": loc})
    best = min(found, key=_rank)
    if best["type"] in UNION_ERRORS:
        return _union_error(best)
    if best["type"] == "finite_number":
        param = param_path(best["loc"])
        return errors.invalid(
            f"Invalid '{param}': expected a finite number, but got {json.dumps(best['input'])} "
            "instead.",
            param,
            "invalid_value",
        )
    detail: dict[str, Any] = {"type": best["type"], "loc": best["loc"], "input": best["input"]}
    if "ctx" in best:
        detail["ctx"] = best["ctx"]
    rebuilt = ValidationError.from_exception_data(exc.title, [detail])  # type: ignore[list-item]
    return from_validation_error(rebuilt)


def _is_tag(part: int | str) -> bool:
    return isinstance(part, str) and part.startswith(TAG_MARK)


def _rank(error: Mapping[str, Any]) -> int:
    if error["type"] == "missing" or (
        error["type"] in UNION_ERRORS
        and UNION_ERRORS[error["type"]][0]
        and isinstance(error["input"], dict)
        and "type" not in error["input"]
    ):
        return 0
    if error["type"] == "extra_forbidden":
        return 1
    return 2


def _union_error(error: Mapping[str, Any]) -> errors.APIError:
    param = param_path(error["loc"]) or "body"
    value = error["input"]
    allowed, expected = UNION_ERRORS[error["type"]]
    if not allowed or not isinstance(value, dict):
        return errors.invalid_type(param, expected, json_type_name(value))
    if "type" not in value:
        return errors.missing_param(f"{param}.type")
    return errors.invalid_value(f"{param}.type", value["type"], list(allowed))


def param_path(loc: Sequence[int | str]) -> str:
    """``("grader", "input", 0, "content")`` -> ``grader.input[0].content``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def check_grader(grader: AnyGrader, param: str, default_name: str | None = None) -> None:
    """What the types cannot say: templates, Python source, ranges, labels, the formula. Also
    fills in a missing ``name``."""
    if grader.name is None:
        grader.name = default_name or grader.type
    if isinstance(grader, StringCheckGrader | TextSimilarityGrader):
        _check_template(grader.input, f"{param}.input")
        _check_template(grader.reference, f"{param}.reference")
    elif isinstance(grader, PythonGrader):
        _check_python(grader.source, f"{param}.source")
    elif isinstance(grader, ScoreModelGrader | LabelModelGrader):
        _check_model_grader(grader, param)
    else:
        _check_multi(grader, param)


def _check_template(text: str, param: str) -> None:
    try:
        template_variables(text)
    except TemplateError as exc:
        raise errors.invalid(f"Invalid '{param}': {exc}", param, "invalid_value") from None


def _check_python(source: str, param: str) -> None:
    size = len(source.encode())
    if size > MAX_PYTHON_SOURCE_BYTES:
        raise errors.invalid(
            f"Invalid '{param}': the source is {size} bytes; the limit is "
            f"{MAX_PYTHON_SOURCE_BYTES} bytes (256 kB).",
            param,
            "invalid_value",
        )
    try:
        module = ast.parse(source)  # parsing only: nothing in the source runs
    except SyntaxError as exc:
        raise errors.invalid(
            f"Invalid '{param}': the source is not valid Python: {exc.msg} "
            f"(line {exc.lineno}, column {exc.offset}).",
            param,
            "invalid_value",
        ) from None
    except (ValueError, RecursionError, MemoryError):
        raise errors.invalid(
            f"Invalid '{param}': the source is not valid Python.", param, "invalid_value"
        ) from None
    if not any(_is_grade_function(node) for node in module.body):
        raise errors.invalid(
            f"Invalid '{param}': the source must define a top-level function "
            f"`{GRADE_FUNCTION}(sample, item)` that can be called with {GRADE_ARGUMENTS} "
            "arguments and returns a float.",
            param,
            "invalid_value",
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


def _check_model_grader(grader: ScoreModelGrader | LabelModelGrader, param: str) -> None:
    if not grader.input:
        raise errors.invalid(
            f"Invalid '{param}.input': expected at least one message.",
            f"{param}.input",
            "invalid_value",
        )
    for index, message in enumerate(grader.input):
        for where, text in _message_texts(message, f"{param}.input[{index}].content"):
            _check_template(text, where)
    if isinstance(grader, ScoreModelGrader):
        if grader.range is not None:
            low_high = grader.range
            if len(low_high) != 2 or not low_high[0] < low_high[1]:
                raise errors.invalid(
                    f"Invalid '{param}.range': expected two numbers [min, max] with min < max, "
                    f"but got {json.dumps(low_high)} instead.",
                    f"{param}.range",
                    "invalid_value",
                )
        return
    if not grader.labels:
        raise errors.invalid(
            f"Invalid '{param}.labels': expected at least one label.",
            f"{param}.labels",
            "invalid_value",
        )
    unknown = [label for label in grader.passing_labels if label not in grader.labels]
    if not grader.passing_labels or unknown:
        raise errors.invalid(
            f"Invalid '{param}.passing_labels': expected a non-empty subset of 'labels', but "
            f"got {json.dumps(grader.passing_labels)} instead.",
            f"{param}.passing_labels",
            "invalid_value",
        )


def _check_multi(grader: MultiGrader, param: str) -> None:
    if not grader.graders:
        raise errors.invalid(
            f"Invalid '{param}.graders': expected at least one grader.",
            f"{param}.graders",
            "invalid_value",
        )
    for key, sub in grader.graders.items():
        check_grader(sub, f"{param}.graders.{key}", default_name=key)
    where = f"{param}.calculate_output"
    try:
        formula = parse_formula(grader.calculate_output)
    except FormulaError as exc:
        raise errors.invalid(f"Invalid '{where}': {exc}", where, "invalid_value") from None
    unknown = sorted(formula_names(formula) - set(grader.graders))
    if unknown:
        known = ", ".join(f"'{k}'" for k in grader.graders)
        raise errors.invalid(
            f"Invalid '{where}': unknown grader '{unknown[0]}'; the formula can use {known}.",
            where,
            "invalid_value",
        )


def grader_api(grader: AnyGrader) -> dict[str, Any]:
    """The normalised grader, as validate answers it: what was given, with ``name`` filled in
    and numbers as numbers."""
    body: dict[str, Any] = grader.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    return body


# -- templates ---------------------------------------------------------------------------------

TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
PATH_PART = re.compile(r"([^.\[\]\s]+)((?:\[\d+\])*)")
INDEX = re.compile(r"\[(\d+)\]")


class TemplateError(ValueError):
    """A ``{{ }}`` that is not ``namespace.variable``."""


class VariableError(LookupError):
    """A variable that does not resolve against the run's item and sample."""


class SampleParseError(LookupError):
    """``sample.output_json`` of a sample that is not JSON."""


@dataclass(frozen=True)
class Variable:
    namespace: str
    path: tuple[str | int, ...]


def parse_variable(expression: str) -> Variable:
    text = expression.strip()
    steps: list[str | int] = []
    for part in text.split("."):
        match = PATH_PART.fullmatch(part)
        if match is None:
            raise TemplateError(f"'{{{{{expression}}}}}' is not of the form namespace.variable.")
        steps.append(match.group(1))
        steps.extend(int(i) for i in INDEX.findall(match.group(2)))
    namespace = steps[0]
    if namespace not in NAMESPACES:
        raise TemplateError(
            f"'{{{{{expression}}}}}' uses the namespace '{namespace}'; the supported namespaces "
            "are 'item' and 'sample'."
        )
    if len(steps) < 2:
        raise TemplateError(f"'{{{{{expression}}}}}' names a namespace but no variable.")
    if namespace == "sample" and steps[1] not in SAMPLE_VARIABLES:
        supported = ", ".join(f"'{v}'" for v in SAMPLE_VARIABLES)
        raise TemplateError(
            f"'{{{{{expression}}}}}' reads 'sample.{steps[1]}'; the sample variables are "
            f"{supported}."
        )
    return Variable(str(namespace), tuple(steps[1:]))


def template_variables(text: str) -> list[Variable]:
    return [parse_variable(m.group(1)) for m in TEMPLATE.finditer(text)]


@dataclass(frozen=True)
class Namespaces:
    """What templates read: ``item`` and the ``sample`` built from ``model_sample``."""

    model_sample: str
    item: Mapping[str, Any]

    @cached_property
    def sample(self) -> dict[str, Any]:
        sample: dict[str, Any] = {"output_text": self.model_sample}
        try:
            sample["output_json"] = json.loads(self.model_sample)
        except (ValueError, RecursionError):  # not JSON, or nested past what json can read
            pass
        return sample


def render_template(text: str, namespaces: Namespaces) -> str:
    sample = namespaces.sample

    def substitute(match: re.Match[str]) -> str:
        variable = parse_variable(match.group(1))
        if variable.namespace == "item":
            value = _resolve(namespaces.item, variable.path)
        elif variable.path[0] == "output_json" and "output_json" not in sample:
            raise SampleParseError("the sample is not valid JSON")
        else:
            value = _resolve(sample, variable.path)
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    return TEMPLATE.sub(substitute, text)


def _resolve(root: object, path: Sequence[str | int]) -> object:
    value = root
    for step in path:
        if isinstance(value, Mapping) and isinstance(step, str) and step in value:
            value = value[step]
        elif isinstance(value, list) and isinstance(step, int) and step < len(value):
            value = value[step]
        else:
            raise VariableError(".".join(str(s) for s in path))
    return value


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


# -- calculate_output: a small arithmetic language, parsed and evaluated here --------------------

FORMULA_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>[-+*/^(),]))"
)


class FormulaError(ValueError):
    """A formula that does not parse, or cannot be computed."""


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Negate:
    operand: Node


@dataclass(frozen=True)
class Chain:
    """``first (op operand)*`` for one precedence level of left-associative ``+ -`` or
    ``* /``; kept flat so that long sums do not nest."""

    first: Node
    rest: tuple[tuple[str, Node], ...]


@dataclass(frozen=True)
class Power:
    base: Node
    exponent: Node


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


Node: TypeAlias = "Number | Name | Negate | Chain | Power | Call"


def _floor(x: float) -> float:
    return float(math.floor(x))


def _ceil(x: float) -> float:
    return float(math.ceil(x))


def _min(*xs: float) -> float:
    return min(xs)


def _max(*xs: float) -> float:
    return max(xs)


# name -> (fewest arguments, most arguments or None for any, function)
FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., float]]] = {
    "min": (1, None, _min),
    "max": (1, None, _max),
    "abs": (1, 1, abs),
    "floor": (1, 1, _floor),
    "ceil": (1, 1, _ceil),
    "exp": (1, 1, math.exp),
    "sqrt": (1, 1, math.sqrt),
    "log": (1, 1, math.log),
}


def parse_formula(text: str) -> Node:
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"the formula is longer than {MAX_FORMULA_LENGTH} characters.")
    return _FormulaParser(text).parse()


class _FormulaParser:
    def __init__(self, text: str) -> None:
        self.tokens = list(self._tokenize(text))
        self.position = 0
        self.depth = 0

    @staticmethod
    def _tokenize(text: str) -> Iterator[tuple[str, str]]:
        at = 0
        while at < len(text):
            match = FORMULA_TOKEN.match(text, at)
            if match is None or match.end() == at:
                if text[at:].strip() == "":
                    return
                raise FormulaError(
                    f"unexpected character {text[at]!r} at position {at} of the formula."
                )
            kind = match.lastgroup
            assert kind is not None  # one alternative always matched
            yield kind, match.group(kind)
            at = match.end()

    def parse(self) -> Node:
        if not self.tokens:
            raise FormulaError("the formula is empty.")
        node = self._sum()
        if self.position < len(self.tokens):
            raise FormulaError(f"unexpected {self.tokens[self.position][1]!r} in the formula.")
        return node

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise FormulaError("the formula ends too early.")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _expect(self, op: str) -> None:
        kind, value = self._take()
        if kind != "op" or value != op:
            raise FormulaError(f"expected {op!r} but found {value!r} in the formula.")

    def _nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_FORMULA_DEPTH:
            raise FormulaError(f"the formula nests deeper than {MAX_FORMULA_DEPTH} levels.")

    def _sum(self) -> Node:
        return self._chain(("+", "-"), self._product)

    def _product(self) -> Node:
        return self._chain(("*", "/"), self._unary)

    def _chain(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        first = operand()
        rest: list[tuple[str, Node]] = []
        while self._peek() in ops:
            op = self._take()[1]
            rest.append((op, operand()))
        return Chain(first, tuple(rest)) if rest else first

    def _unary(self) -> Node:
        if self._peek() in ("+", "-"):
            op = self._take()[1]
            self._nested()
            operand = self._unary()
            self.depth -= 1
            return Negate(operand) if op == "-" else operand
        return self._power()

    def _power(self) -> Node:
        base = self._atom()
        if self._peek() == "^":
            self._take()
            self._nested()
            exponent = self._unary()  # right-associative; 2^-1 allowed
            self.depth -= 1
            return Power(base, exponent)
        return base

    def _atom(self) -> Node:
        kind, value = self._take()
        if kind == "number":
            return Number(float(value))
        if kind == "name":
            if self._peek() == "(":
                return self._call(value)
            return Name(value)
        if value == "(":
            self._nested()
            node = self._sum()
            self._expect(")")
            self.depth -= 1
            return node
        raise FormulaError(f"unexpected {value!r} in the formula.")

    def _call(self, function: str) -> Node:
        if function not in FUNCTIONS:
            supported = ", ".join(FUNCTIONS)
            raise FormulaError(
                f"unknown function '{function}'; the supported functions are {supported}."
            )
        self._expect("(")
        self._nested()
        args = [self._sum()]
        while self._peek() == ",":
            self._take()
            args.append(self._sum())
        self._expect(")")
        self.depth -= 1
        fewest, most, _ = FUNCTIONS[function]
        if len(args) < fewest or (most is not None and len(args) > most):
            raise FormulaError(f"'{function}' takes {fewest} argument(s), not {len(args)}.")
        return Call(function, tuple(args))


def formula_names(node: Node) -> set[str]:
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Negate):
        return formula_names(node.operand)
    if isinstance(node, Chain):
        return formula_names(node.first).union(*(formula_names(n) for _, n in node.rest))
    if isinstance(node, Power):
        return formula_names(node.base) | formula_names(node.exponent)
    names: set[str] = set()
    if isinstance(node, Call):
        for arg in node.args:
            names |= formula_names(arg)
    return names


def evaluate_formula(node: Node, values: Mapping[str, float]) -> float:
    try:
        result = _evaluate(node, values)
    except ZeroDivisionError:
        raise FormulaError("division by zero.") from None
    except OverflowError:
        raise FormulaError("the result is too large.") from None
    except ValueError as exc:
        raise FormulaError(f"math domain error ({exc}).") from None
    if not math.isfinite(result):
        raise FormulaError("the result is not a finite number.")
    return result


def _evaluate(node: Node, values: Mapping[str, float]) -> float:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Name):
        if node.name not in values:
            raise FormulaError(f"unknown grader '{node.name}'.")
        return float(values[node.name])
    if isinstance(node, Negate):
        return -_evaluate(node.operand, values)
    if isinstance(node, Power):
        return math.pow(_evaluate(node.base, values), _evaluate(node.exponent, values))
    if isinstance(node, Call):
        function = FUNCTIONS[node.function][2]
        return float(function(*(_evaluate(a, values) for a in node.args)))
    total = _evaluate(node.first, values)
    for op, operand in node.rest:
        right = _evaluate(operand, values)
        if op == "+":
            total += right
        elif op == "-":
            total -= right
        elif op == "*":
            total *= right
        else:
            total /= right
    return total


# -- text similarity ----------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _overlap(a: Counter[tuple[str, ...]], b: Counter[tuple[str, ...]]) -> int:
    return sum((a & b).values())


def _f1(matches: int, produced: int, expected: int) -> float:
    if matches == 0 or produced == 0 or expected == 0:
        return 0.0
    precision, recall = matches / produced, matches / expected
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison & Dix 1986): one pass
    over ``a`` with big-integer operations on a bit per element of ``b``, so long texts cost
    O(len(a) * len(b) / 64) machine words rather than a Python-level table."""
    if not a or not b:
        return 0
    positions: dict[Hashable, list[int]] = {}
    for index, element in enumerate(b):
        positions.setdefault(element, []).append(index)
    width = len(b)
    masks: dict[Hashable, int] = {}
    for element, found in positions.items():
        bits = bytearray((width + 7) // 8)
        for index in found:
            bits[index >> 3] |= 1 << (index & 7)
        masks[element] = int.from_bytes(bits, "little")
    full = (1 << width) - 1
    row = full
    for element in a:
        matched = row & masks.get(element, 0)
        row = ((row + matched) | (row - matched)) & full
    return width - row.bit_count()


def fuzzy_match(candidate: str, reference: str) -> float:
    """rapidfuzz's ``fuzz.ratio`` / 100: the normalised Indel similarity 2·LCS / (m + n) over
    characters; two empty strings are identical."""
    total = len(candidate) + len(reference)
    return 1.0 if total == 0 else 2 * lcs_length(candidate, reference) / total


def bleu(candidate: Sequence[str], reference: Sequence[str]) -> float:
    if not candidate or not reference:
        return 0.0
    log_sum = 0.0
    for n in range(1, BLEU_MAX_ORDER + 1):
        produced = _ngrams(candidate, n)
        matches = _overlap(produced, _ngrams(reference, n))
        total = sum(produced.values())
        if n == 1:
            if matches == 0:
                return 0.0
            precision = matches / total
        else:
            precision = (matches + 1) / (total + 1)
        log_sum += math.log(precision) / BLEU_MAX_ORDER
    brevity = (
        1.0 if len(candidate) >= len(reference) else math.exp(1 - len(reference) / len(candidate))
    )
    return brevity * math.exp(log_sum)


def gleu(candidate: Sequence[str], reference: Sequence[str]) -> float:
    matches = produced = expected = 0
    for n in range(1, GLEU_MAX_ORDER + 1):
        mine, theirs = _ngrams(candidate, n), _ngrams(reference, n)
        matches += _overlap(mine, theirs)
        produced += sum(mine.values())
        expected += sum(theirs.values())
    if produced == 0 or expected == 0:
        return 0.0
    return min(matches / produced, matches / expected)


def meteor(candidate: Sequence[str], reference: Sequence[str]) -> float:
    unused: dict[str, deque[int]] = {}
    for position, word in enumerate(reference):
        unused.setdefault(word, deque()).append(position)
    alignment: list[int] = []  # reference position of each matched candidate word, in order
    for word in candidate:
        free = unused.get(word)
        if free:
            alignment.append(free.popleft())  # the earliest unused occurrence
    matches = len(alignment)
    if matches == 0:
        return 0.0
    precision, recall = matches / len(candidate), matches / len(reference)
    fmean = (
        (1 + METEOR_RECALL_WEIGHT)
        * precision
        * recall
        / (recall + METEOR_RECALL_WEIGHT * precision)
    )
    chunks = 1 + sum(1 for a, b in zip(alignment, alignment[1:]) if b != a + 1)
    penalty = METEOR_PENALTY_WEIGHT * (chunks / matches) ** METEOR_PENALTY_EXPONENT
    return fmean * (1 - penalty)


def rouge_n(candidate: Sequence[str], reference: Sequence[str], n: int) -> float:
    mine, theirs = _ngrams(candidate, n), _ngrams(reference, n)
    return _f1(_overlap(mine, theirs), sum(mine.values()), sum(theirs.values()))


def rouge_l(candidate: Sequence[str], reference: Sequence[str]) -> float:
    return _f1(lcs_length(candidate, reference), len(candidate), len(reference))


def cosine(candidate: Sequence[str], reference: Sequence[str]) -> float:
    mine, theirs = Counter(candidate), Counter(reference)
    dot = sum(count * theirs[word] for word, count in mine.items())
    if dot == 0:
        return 0.0
    squares = sum(c * c for c in mine.values()) * sum(c * c for c in theirs.values())
    return dot / math.sqrt(squares)  # integers under the root: identical texts give exactly 1


def similarity(metric: str, candidate: str, reference: str) -> float:
    """``evaluation_metric`` of ``candidate`` (the grader's input) against ``reference``."""
    if metric == "fuzzy_match":
        return fuzzy_match(candidate, reference)
    mine, theirs = words(candidate), words(reference)
    if metric in ROUGE_ORDERS:
        return rouge_n(mine, theirs, ROUGE_ORDERS[metric])
    scorers: dict[str, Callable[[Sequence[str], Sequence[str]], float]] = {
        "bleu": bleu,
        "gleu": gleu,
        "meteor": meteor,
        "rouge_l": rouge_l,
        "cosine": cosine,
    }
    if metric not in scorers:
        raise ValueError(f"unknown evaluation metric {metric!r}")
    return min(1.0, max(0.0, scorers[metric](mine, theirs)))


# -- running ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )

    def api(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": 0,
        }


@dataclass(frozen=True)
class Outcome:
    reward: float
    seconds: float
    errors: frozenset[str] = frozenset()
    usage: Mapping[str, TokenUsage] = field(default_factory=dict)
    sampled_model: str | None = None
    sub_rewards: Mapping[str, float] = field(default_factory=dict)


def run(
    grader: AnyGrader, model_sample: str, item: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The RunGraderResponse body for a parsed, checked grader."""
    outcome = _outcome(grader, Namespaces(model_sample, item or {}))
    usage = outcome.usage
    return {
        "reward": outcome.reward,
        "metadata": {
            "name": grader.name or grader.type,
            "type": grader.type,
            "errors": {
                name: None if name in ERROR_DETAILS else name in outcome.errors
                for name in ERROR_FIELDS
            },
            "execution_time": round(outcome.seconds, EXECUTION_TIME_DECIMALS),
            "scores": dict(outcome.sub_rewards),
            "token_usage": sum(u.total_tokens for u in usage.values()) if usage else None,
            "sampled_model_name": outcome.sampled_model,
        },
        "sub_rewards": dict(outcome.sub_rewards),
        "model_grader_token_usage_per_model": {m: u.api() for m, u in usage.items()},
    }


def grade(grader: AnyGrader, model_sample: str, item: Mapping[str, Any] | None = None) -> float:
    """Just the reward (e.g. for a reinforcement job's metrics)."""
    return _outcome(grader, Namespaces(model_sample, item or {})).reward


def _outcome(grader: AnyGrader, namespaces: Namespaces) -> Outcome:
    try:
        if isinstance(grader, StringCheckGrader):
            return _string_check(grader, namespaces)
        if isinstance(grader, TextSimilarityGrader):
            return _text_similarity(grader, namespaces)
        if isinstance(grader, PythonGrader):
            return _python(grader, namespaces)
        if isinstance(grader, ScoreModelGrader | LabelModelGrader):
            return _model(grader, namespaces)
        return _multi(grader, namespaces)
    except VariableError:
        return Outcome(0.0, LOCAL_GRADER_SECONDS, frozenset({INVALID_VARIABLE_ERROR}))
    except SampleParseError:
        return Outcome(0.0, LOCAL_GRADER_SECONDS, frozenset({SAMPLE_PARSE_ERROR}))


def _string_check(grader: StringCheckGrader, namespaces: Namespaces) -> Outcome:
    given = render_template(grader.input, namespaces)
    reference = render_template(grader.reference, namespaces)
    checks: dict[str, Callable[[], bool]] = {
        "eq": lambda: given == reference,
        "ne": lambda: given != reference,
        "like": lambda: reference in given,
        "ilike": lambda: reference.lower() in given.lower(),
    }
    return Outcome(1.0 if checks[grader.operation]() else 0.0, LOCAL_GRADER_SECONDS)


def _text_similarity(grader: TextSimilarityGrader, namespaces: Namespaces) -> Outcome:
    given = render_template(grader.input, namespaces)
    reference = render_template(grader.reference, namespaces)
    return Outcome(similarity(grader.evaluation_metric, given, reference), LOCAL_GRADER_SECONDS)


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from anything JSON can hold."""
    material = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(material.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _python(grader: PythonGrader, namespaces: Namespaces) -> Outcome:
    reward = _unit("python", grader.source, namespaces.model_sample, dict(namespaces.item))
    return Outcome(round(reward, STAND_IN_DECIMALS), PYTHON_GRADER_SECONDS)


def _model(grader: ModelGrader, namespaces: Namespaces) -> Outcome:
    messages = _rendered_messages(grader.input, namespaces)
    seed = (grader_api(grader), messages, namespaces.model_sample, dict(namespaces.item))
    spread = _unit("completion_tokens", *seed)
    completion = MODEL_COMPLETION_TOKENS_MIN + int(spread * MODEL_COMPLETION_TOKENS_SPREAD)
    usage = TokenUsage(tokens.count_messages(messages), completion)
    seconds = MODEL_GRADER_BASE_SECONDS + completion * MODEL_GRADER_SECONDS_PER_COMPLETION_TOKEN
    draw = _unit("reward", *seed)
    if isinstance(grader, ScoreModelGrader):
        low, high = grader.range or DEFAULT_SCORE_RANGE
        # a convex combination: finite for any finite range, however wide
        reward = round(low * (1 - draw) + high * draw, STAND_IN_DECIMALS)
    else:
        label = grader.labels[int(draw * len(grader.labels))]
        reward = 1.0 if label in grader.passing_labels else 0.0
    return Outcome(reward, seconds, usage={grader.model: usage}, sampled_model=grader.model)


def _multi(grader: MultiGrader, namespaces: Namespaces) -> Outcome:
    results = {key: _outcome(sub, namespaces) for key, sub in grader.graders.items()}
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
