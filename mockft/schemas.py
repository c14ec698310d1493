"""Request bodies and resource objects (shapes from OpenAI's OpenAPI description)."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from mockft import errors
from mockft.errors import json_type_name as json_type_name  # re-exported for older callers

FILE_PURPOSES = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]
MIN_EXPIRY_SECONDS = 3600
MAX_EXPIRY_SECONDS = 2_592_000

M = TypeVar("M", bound=BaseModel)


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ExpiresAfter(Request):
    anchor: Literal["created_at"]
    seconds: int = Field(ge=MIN_EXPIRY_SECONDS, le=MAX_EXPIRY_SECONDS)


class CreateUpload(Request):
    filename: str
    purpose: Literal["assistants", "batch", "fine-tune", "vision"]
    bytes: int = Field(ge=0)
    mime_type: str
    expires_after: ExpiresAfter | None = None


class CompleteUpload(Request):
    part_ids: list[str]
    md5: str | None = None


Auto = Literal["auto"]
BatchSize = Auto | Annotated[int, Field(ge=1, le=256)]
LearningRate = Auto | Annotated[float, Field(gt=0)]
Epochs = Auto | Annotated[int, Field(ge=1, le=50)]
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_WANDB_TAGS = 50
MAX_WANDB_TAG_LENGTH = 64
MAX_INTEGRATIONS = 5
MAX_SEED = 2_147_483_647


class SupervisedHyperparameters(Request):
    batch_size: BatchSize = "auto"
    learning_rate_multiplier: LearningRate = "auto"
    n_epochs: Epochs = "auto"


class DpoHyperparameters(SupervisedHyperparameters):
    beta: Auto | Annotated[float, Field(gt=0, le=2)] = "auto"


class ReinforcementHyperparameters(SupervisedHyperparameters):
    reasoning_effort: Literal["default", "low", "medium", "high"] = "default"
    compute_multiplier: Auto | Annotated[float, Field(gt=0.00001, le=10)] = "auto"
    eval_interval: Auto | Annotated[int, Field(ge=1)] = "auto"
    eval_samples: Auto | Annotated[int, Field(ge=1)] = "auto"


class SupervisedMethod(Request):
    hyperparameters: SupervisedHyperparameters | None = None


class DpoMethod(Request):
    hyperparameters: DpoHyperparameters | None = None


class ReinforcementMethod(Request):
    grader: dict[str, Any]
    hyperparameters: ReinforcementHyperparameters | None = None
    response_format: dict[str, Any] | None = None


class Method(Request):
    type: Literal["supervised", "dpo", "reinforcement"]
    supervised: SupervisedMethod | None = None
    dpo: DpoMethod | None = None
    reinforcement: ReinforcementMethod | None = None

    def hyperparameters(self) -> SupervisedHyperparameters | None:
        """The hyperparameters given for the chosen method, if any."""
        chosen: SupervisedMethod | DpoMethod | ReinforcementMethod | None = {
            "supervised": self.supervised,
            "dpo": self.dpo,
            "reinforcement": self.reinforcement,
        }[self.type]
        return chosen.hyperparameters if chosen is not None else None


class Wandb(Request):
    project: str
    name: str | None = None
    entity: str | None = None
    tags: (
        Annotated[
            list[Annotated[str, Field(max_length=MAX_WANDB_TAG_LENGTH)]],
            Field(max_length=MAX_WANDB_TAGS),
        ]
        | None
    ) = None


class Integration(Request):
    type: Literal["wandb"]
    wandb: Wandb


class CreateFineTuningJob(Request):
    model: str
    training_file: str
    hyperparameters: SupervisedHyperparameters | None = None
    suffix: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    validation_file: str | None = None
    integrations: Annotated[list[Integration], Field(max_length=MAX_INTEGRATIONS)] | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    method: Method | None = None
    metadata: (
        Annotated[
            dict[
                Annotated[str, Field(max_length=MAX_METADATA_KEY)],
                Annotated[str, Field(max_length=MAX_METADATA_VALUE)],
            ],
            Field(max_length=MAX_METADATA_PAIRS),
        ]
        | None
    ) = None


CHAT_ROLES = ["system", "developer", "user", "assistant", "tool", "function"]
OTHER_CHAT_PARAMETERS = (
    "audio frequency_penalty function_call functions logit_bias metadata modalities "
    "moderation parallel_tool_calls prediction presence_penalty prompt_cache_key "
    "prompt_cache_options prompt_cache_retention reasoning_effort response_format "
    "safety_identifier service_tier stop store tool_choice tools top_p user "
    "verbosity web_search_options"
).split()
OTHER_COMPLETION_PARAMETERS = (
    "best_of echo frequency_penalty logit_bias presence_penalty stop suffix top_p user"
).split()


MAX_TOP_LOGPROBS = 20
MAX_COMPLETION_LOGPROBS = 5


class Sampling(Request):
    """What the chat and legacy completions endpoints share; other documented parameters
    are accepted and have no effect on the synthetic output."""

    model_config = ConfigDict(extra="allow", strict=True)
    model: str
    n: Annotated[int, Field(ge=1, le=128)] | None = None
    seed: int | None = None
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None


# A custom pydantic error that says in words what a union expects ("one of a string or array
# of objects"); `from_validation_error` quotes its context's `expected`.
UNION_TYPE_ERROR = "union_type"


def _content_tag(value: object) -> str | None:
    """Which branch of a message's `content` a value is for; None: the wrong type."""
    if value is None:
        return "none"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return None


# Text, or an array of parts: the real 400 for anything else is "Invalid type for
# 'messages[1].content': expected one of a string or array of objects, but got an object
# instead." (docs/fidelity.md). The tags are union branch names, left out of `param`.
MessageContent = Annotated[
    Annotated[str, Tag("str")]
    | Annotated[list[dict[str, Any]], Tag("list")]
    | Annotated[None, Tag("none")],
    Discriminator(
        _content_tag,
        custom_error_type=UNION_TYPE_ERROR,
        custom_error_message="expected one of a string or array of objects",
        custom_error_context={"expected": "one of a string or array of objects"},
    ),
]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: MessageContent = None
    tool_calls: list[dict[str, Any]] | None = None  # an assistant's calls, each with an `id`
    tool_call_id: str | None = None  # the call a `tool` message answers


class CreateChatCompletion(Sampling):
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=MAX_TOP_LOGPROBS)] | None = None


class CreateCompletion(Sampling):
    prompt: str | list[str]
    logprobs: Annotated[int, Field(ge=0, le=MAX_COMPLETION_LOGPROBS)] | None = None


# -- request parsing -------------------------------------------------------------------

# pydantic's error kinds ("int_type", "float_parsing", ...) by the JSON type they expected;
# the words are errors.JSON_TYPE_NAMES'.
EXPECTED_TYPES = {
    "int": "integer",
    "float": "number",
    "string": "string",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
    "model": "object",
}


ERROR_RANK = {
    "missing": 0,
    "extra_forbidden": 1,
    "greater_than_equal": 2,
    "greater_than": 2,
    "less_than_equal": 2,
    "less_than": 2,
    "string_too_long": 2,
    "string_too_short": 2,
    "too_long": 2,
    "too_short": 2,
}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise ValueError(f"{text} is out of range")
    return value


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """Strict JSON: no NaN/Infinity (Python's json reads them; nothing else does) and no
    lone surrogates (they could be stored but never written back out as UTF-8)."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
        if b"\\u" in raw:
            json.dumps(data, ensure_ascii=False).encode()
    except (ValueError, UnicodeError, RecursionError):
        raise errors.invalid_json() from None
    if not isinstance(data, dict):
        raise errors.invalid_json()
    return data


def parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def from_validation_error(exc: ValidationError) -> errors.APIError:
    """The most telling problem pydantic found, worded as the real API words it: where a
    union (`"auto"` or a number) failed on every branch, the range error beats the
    complaint that the value is not "auto". Values are quoted as JSON writes them, and
    never more than an excerpt."""
    found = exc.errors(include_url=False)
    error = min(found, key=lambda e: ERROR_RANK.get(e["type"], len(ERROR_RANK)))
    loc = tuple(error["loc"])
    is_key = bool(loc) and loc[-1] == KEY_LOCATION  # a mapping's key, not its value
    param = _param_path(loc[:-2] if is_key else loc)
    name = param or "body"
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    value = error.get("input")
    if kind == UNION_TYPE_ERROR:
        return errors.invalid_type(name, str(ctx["expected"]), json_type_name(value))
    if kind == "missing":
        return errors.missing_param(name)
    if kind == "extra_forbidden":
        loc = error["loc"]
        if len(loc) >= 2 and loc[-2] == HYPERPARAMETERS and isinstance(loc[-1], str):
            return errors.unknown_hyperparameter(loc[-1], value)
        if len(loc) == 1 and exc.title == CreateFineTuningJob.__name__:
            return errors.unknown_job_argument(name, value)
        return errors.unknown_param(name)
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        bound, inclusive = _bound(ctx), kind.endswith("_equal")
        if kind.startswith("greater"):
            return errors.below_minimum(name, bound, value, inclusive=inclusive)
        return errors.above_maximum(name, bound, value, inclusive=inclusive)
    if kind == "string_too_long":
        if is_key:
            return errors.invalid(
                f"Invalid '{name}': key too long. Expected a key with maximum length "
                f"{ctx['max_length']}, but got a key with length {len(str(value))} instead.",
                name,
                "string_above_max_length",
            )
        return errors.string_too_long(name, int(ctx["max_length"]), len(str(value)))
    if kind == "too_long":
        if isinstance(value, dict):
            return errors.object_too_many_properties(name, int(ctx["max_length"]), len(value))
        got = ctx.get("actual_length")
        if got is None and isinstance(value, list):
            got = len(value)
        return errors.invalid(
            f"Invalid '{name}': array too long. Expected an array with maximum length "
            f"{ctx.get('max_length')}, but got an array with length {got} instead.",
            name,
            "array_above_max_length",
        )
    if kind == "too_short":
        return errors.invalid(
            f"Invalid '{name}': empty array. Expected an array with minimum length "
            f"{ctx.get('min_length')}, but got an empty array instead.",
            name,
            "empty_array",
        )
    if kind == "string_too_short":
        return errors.invalid(
            f"Invalid '{name}': string too short. Expected a string with minimum length "
            f"{ctx.get('min_length')}, but got an empty string instead.",
            name,
            "string_below_min_length",
        )
    if kind in {"literal_error", "enum", "float_type", "int_type"} and _huge_integer(value):
        return errors.invalid(
            f"Invalid '{name}': number too large. Expected a number of magnitude below "
            f"1e308, but got {errors.value_text(value)} instead.",
            name,
            "number_above_max_value",
        )
    if kind in {"literal_error", "enum"}:
        allowed = _literals(ctx)
        strings = "'" in str(ctx.get("expected", ""))  # 'auto', 'dpo'; or 429, 500, ...
        if isinstance(value, bool) or isinstance(value, str) != strings:
            # `true` for "auto" or an integer: the wrong type, not a wrong value
            return errors.invalid_type(
                name, _expected(found, param, allowed), json_type_name(value)
            )
        return errors.invalid_value(name, value, allowed)
    return errors.invalid_type(name, _type_name(kind), json_type_name(value))


KEY_LOCATION = "[key]"


def _type_name(kind: str) -> str:
    """The type a pydantic error kind expected, in the API's words (`a decimal`, ...)."""
    json_type = EXPECTED_TYPES.get(kind.split("_")[0])
    return errors.JSON_TYPE_NAMES[json_type] if json_type else "a valid value"


def _literals(ctx: dict[str, Any]) -> list[str]:
    expected = str(ctx.get("expected", ""))
    allowed = [part.strip().strip("'") for part in expected.replace(" or ", ",").split(",")]
    return [a for a in allowed if a]


def _expected(found: list[Any], param: str | None, allowed: list[str]) -> str:
    """What a union (or a set of literals) accepts, in words: `'auto' or an integer`,
    `one of 'supervised', 'dpo' or 'reinforcement'`."""
    types = [
        _type_name(e["type"])
        for e in found
        if e["type"].endswith("_type") and _param_path(tuple(e["loc"])) == param
    ]
    quoted = [f"'{a}'" for a in allowed]
    options = list(dict.fromkeys(quoted + types))
    if len(options) == 1:
        return options[0]
    listed = ", ".join(options[:-1]) + f" or {options[-1]}"
    return listed if types else f"one of {listed}"


def _huge_integer(value: object) -> bool:
    """An integer no double can hold (pydantic then calls it "not a valid number")."""
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    try:
        float(value)
    except OverflowError:
        return True
    return False


def _bound(ctx: dict[str, Any]) -> float:
    for key in ("ge", "gt", "le", "lt"):
        if key in ctx:
            return float(ctx[key]) if isinstance(ctx[key], float) else int(ctx[key])
    return 0


HYPERPARAMETERS = "hyperparameters"  # an unknown key inside it has its own wording
UNION_BRANCHES = frozenset({"int", "float", "str", "bool", "list", "dict", "none"})


def _param_path(loc: tuple[int | str, ...]) -> str | None:
    """`("integrations", 0, "wandb", "tags", 0)` -> `integrations[0].wandb.tags[0]`,
    leaving out the union branch names pydantic puts in locations."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        if part in UNION_BRANCHES or part.startswith(("literal[", "function-", "constrained-")):
            continue
        part = errors.excerpt(part)  # a mapping's key is the client's: quote a little
        path += f".{part}" if path else part
    return path or None
