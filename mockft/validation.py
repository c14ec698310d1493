"""Training-data validation: the checks the real fine-tuning service runs, in one pass.

``validate_file`` reads a JSONL file as an iterator of byte chunks (any sizes) and returns a
``ValidationReport``: for every check its count of offending lines with the first few line
numbers, token statistics, the examples over the model's per-example limit, billable tokens,
the first error as the job reports it ({code, message, param}) and the warnings. The server
(``service/jobs.py``) and ``mockft validate`` both call it, so they always agree.

Pure and streaming: no I/O, no clock. Memory holds one chunk and one line at a time (a line
longer than ``MAX_LINE_BYTES`` is skipped, not buffered), the token counter's bounded caches
and a table of 64-bit line fingerprints for duplicate detection that stops growing at
``FINGERPRINT_MAX_SLOTS`` (8 MiB), whatever the file's size.

Decisions where the real service's behaviour is not published:

- Blank (whitespace-only) lines are skipped, not examples, and reported as a warning; the
  Files API of mockft skips them too. The final newline of a file is not a blank line.
- A UTF-8 byte-order mark at the start of the file is ignored; any other invalid UTF-8 fails.
- ``NaN`` / ``Infinity`` are not JSON and fail like any unparseable line.
- Duplicates are byte-identical lines (after trailing whitespace); they are only a warning.
- Keys a format does not use, at the top level of a supervised or DPO example, are ignored
  with a warning; inside a message they are an error (as in OpenAI's data-preparation
  cookbook). Reinforcement examples may carry any extra keys: graders read them.
- Examples longer than the model's ``max_tokens_per_example`` are truncated, not rejected:
  a warning, and only ``max_tokens_per_example`` of them are billed.
- At least ``MIN_EXAMPLES`` examples are required in a training file, none in a validation
  file.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from mockft import lifecycle, tokens
from mockft.catalog import FineTuningSpec

# -- vocabulary ---------------------------------------------------------------------------

METHOD_SUPERVISED: Final = "supervised"
METHOD_DPO: Final = "dpo"
METHOD_REINFORCEMENT: Final = "reinforcement"
METHODS: Final = (METHOD_SUPERVISED, METHOD_DPO, METHOD_REINFORCEMENT)

FORMAT_CHAT: Final = "chat"
FORMAT_PROMPT_COMPLETION: Final = "prompt_completion"
FORMAT_DPO: Final = "dpo"
FORMAT_REINFORCEMENT: Final = "reinforcement"

TRAINING_FILE: Final = "training_file"
VALIDATION_FILE: Final = "validation_file"
ERROR_CODES: Final[Mapping[str, str]] = {
    TRAINING_FILE: "invalid_training_file",
    VALIDATION_FILE: "invalid_validation_file",
}
SOURCE_LABELS: Final[Mapping[str, str]] = {
    TRAINING_FILE: "Training file",
    VALIDATION_FILE: "Validation file",
}

ERROR: Final = "error"
WARNING: Final = "warning"

# -- limits -------------------------------------------------------------------------------

MIN_EXAMPLES: Final = 10
MAX_LINE_BYTES: Final = 64 * 1024 * 1024  # a longer line is rejected without being buffered
MAX_REPORTED_LINES: Final = 5  # line numbers kept per check
LINE_PREVIEW_CHARS: Final = 40
BYTE_ORDER_MARK: Final = "\ufeff"
# Duplicate detection: 64-bit fingerprints, open addressing, at most this many slots
# (8 MiB); a table that is 3/4 full stops remembering new lines.
FINGERPRINT_INITIAL_SLOTS: Final = 1 << 12
FINGERPRINT_MAX_SLOTS: Final = 1 << 20
FINGERPRINT_MAX_FILL: Final = 0.75
FINGERPRINT_MASK: Final = (1 << 64) - 1
PER_MILLION: Final = 1_000_000

# -- what a valid example looks like ------------------------------------------------------

CHAT_ROLES: Final = frozenset({"system", "user", "assistant", "tool", "function"})
# Reasoning models take "developer" instructions; reinforcement fine-tunes them.
REINFORCEMENT_ROLES: Final = CHAT_ROLES | {"developer"}
ASSISTANT: Final = "assistant"
MESSAGE_KEYS_SHOWN: Final = (
    "role",
    "content",
    "name",
    "weight",
    "tool_calls",
    "function_call",
    "tool_call_id",
)
MESSAGE_KEYS: Final = frozenset(MESSAGE_KEYS_SHOWN)
ALLOWED_WEIGHTS: Final = (0, 1)
CHAT_EXAMPLE_KEYS: Final = frozenset({"messages", "tools", "functions", "parallel_tool_calls"})
PROMPT_COMPLETION_KEYS: Final = ("prompt", "completion")
PROMPT_COMPLETION_EXAMPLE_KEYS: Final = frozenset(PROMPT_COMPLETION_KEYS)
DPO_KEYS: Final = ("input", "preferred_output", "non_preferred_output")
DPO_OUTPUT_KEYS: Final = DPO_KEYS[1:]
DPO_EXAMPLE_KEYS: Final = frozenset({*DPO_KEYS, "tools", "functions", "parallel_tool_calls"})
DPO_INPUT_KEYS: Final = CHAT_EXAMPLE_KEYS
TEXT_PART: Final = "text"
IMAGE_PART: Final = "image_url"
FUNCTION_TYPE: Final = "function"
SPECIAL_TOKEN_MARK: Final = "<|"

JSON_TYPE_NAMES: Final[Mapping[type, str]] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}
FORMAT_NAMES: Final[Mapping[str, str]] = {
    FORMAT_CHAT: 'a chat example ("messages")',
    FORMAT_PROMPT_COMPLETION: 'a prompt/completion example ("prompt", "completion")',
    FORMAT_DPO: (
        'a preference (DPO) example ("input", "preferred_output", "non_preferred_output")'
    ),
    FORMAT_REINFORCEMENT: 'a reinforcement example ("messages" plus grader fields)',
}
FORMAT_PLURALS: Final[Mapping[str, str]] = {
    FORMAT_CHAT: 'chat examples ("messages")',
    FORMAT_PROMPT_COMPLETION: 'prompt/completion examples ("prompt", "completion")',
    FORMAT_DPO: 'preference (DPO) examples ("input", "preferred_output", "non_preferred_output")',
    FORMAT_REINFORCEMENT: 'reinforcement examples ("messages" plus grader fields)',
}

# -- messages: the real service's wording where it is known --------------------------------

PREFIX: Final = "Invalid file format. Line {line}"
MSG_INVALID_UTF8: Final = PREFIX + " is not valid UTF-8: {detail}."
TOO_DEEP: Final = "values are nested too deeply"
MSG_LINE_TOO_LONG: Final = PREFIX + " is longer than {limit:,} bytes."
MSG_INVALID_JSON: Final = PREFIX + " cannot be parsed. Error: line contains invalid json: {detail}"
MSG_DATA_TYPE: Final = (
    "Expected file to have JSONL format, where every line is a valid JSON dictionary. "
    "Line {line} is not a dictionary (HINT: line starts with: {preview})."
)
MSG_WRONG_FORMAT: Final = (
    PREFIX + " is {found}, but fine-tuning {model} with the {method} method needs {expected}."
)
MSG_MESSAGES_MISSING: Final = (
    PREFIX + ', key "messages": missing; every example needs a list of messages.'
)
MSG_MESSAGES_TYPE: Final = PREFIX + ', key "messages": expected a list of messages, got {type}.'
MSG_MESSAGES_EMPTY: Final = PREFIX + ', key "messages": the list of messages is empty.'
MSG_MESSAGE_TYPE: Final = PREFIX + ", message {index}: expected an object, got {type}."
MSG_MISSING_ROLE: Final = PREFIX + ', message {index}: missing required key "role".'
MSG_UNRECOGNIZED_KEY: Final = (
    PREFIX + ", message {index}: unrecognized key(s) {keys}; a message may only have {allowed}."
)
MSG_UNRECOGNIZED_ROLE: Final = (
    PREFIX + ", message {index}: unrecognized role {role}; expected one of {allowed}."
)
MSG_MISSING_CONTENT: Final = PREFIX + ', message {index} ({role}): missing "content"{alt}.'
MSG_MISSING_CONTENT_ALT: Final = ' (or "tool_calls" / "function_call")'
MSG_CONTENT_TYPE: Final = (
    PREFIX + ', message {index}: "content" must be a string or a list of content parts, got {type}.'
)
MSG_STRING_KEY: Final = PREFIX + ', message {index}: "{key}" must be a string, got {type}.'
STRING_MESSAGE_KEYS: Final = ("name", "tool_call_id")
MSG_CONTENT_PART: Final = (
    PREFIX + ", message {index}, content part {part}: expected "
    '{{"type": "text", "text": ...}} or {{"type": "image_url", "image_url": {{"url": ...}}}}.'
)
MSG_WEIGHT_VALUE: Final = PREFIX + ', message {index}: "weight" must be 0 or 1, got {value}.'
MSG_WEIGHT_ROLE: Final = (
    PREFIX + ', message {index}: "weight" is only allowed on assistant messages, '
    "not on a {role} message."
)
MSG_WEIGHT_FORMAT: Final = (
    PREFIX + ', message {index}: "weight" is only used in supervised chat examples.'
)
MSG_NO_ASSISTANT: Final = (
    PREFIX
    + ': the example has no assistant message; at least one message must have role "'
    + ASSISTANT
    + '".'
)
MSG_INVALID_TOOLS: Final = PREFIX + ', key "{key}": {problem}.'
TOOLS_PROBLEM: Final = (
    'expected a list of {"type": "function", "function": {"name": ...}} definitions'
)
FUNCTIONS_PROBLEM: Final = 'expected a list of {"name": ...} function definitions'
PARALLEL_PROBLEM: Final = "expected true or false, got {type}"
MSG_INVALID_TOOL_CALL: Final = PREFIX + ', message {index}, key "{key}": {problem}.'
TOOL_CALLS_PROBLEM: Final = (
    'expected a non-empty list of {"id": ..., "type": "function", "function": {"name": ..., '
    '"arguments": ...}} calls'
)
FUNCTION_CALL_PROBLEM: Final = 'expected {"name": ..., "arguments": ...}'
ARGUMENTS_PROBLEM: Final = (
    'the "arguments" of a call to "{name}" must be a string (of JSON), got {type}'
)
CALLS_ROLE_PROBLEM: Final = "only assistant messages can call tools"
MSG_UNDECLARED_TOOL: Final = (
    PREFIX + ', message {index}: calls function "{name}", which is not declared in "{key}".'
)
MSG_INVALID_TOKEN: Final = PREFIX + ", {where} contains an invalid token: {token}."
MSG_PROMPT_MISSING: Final = (
    "Expected file to have JSONL format with prompt/completion keys. "
    "Missing `{key}` key on line {line}."
)
MSG_PROMPT_TYPE: Final = PREFIX + ', key "{key}": expected a string, got {type}.'
MSG_DPO_MISSING: Final = (
    PREFIX + ': missing key "{key}"; a DPO example needs "input", "preferred_output" and '
    '"non_preferred_output".'
)
MSG_DPO_INPUT: Final = PREFIX + ', key "input": expected an object with a list of "messages".'
MSG_DPO_OUTPUT: Final = (
    PREFIX + ', key "{key}": expected a list holding exactly one assistant message.'
)
MSG_TOO_FEW: Final = "{source} has {count} example(s), but must have at least {minimum} examples"
MSG_METHOD_UNSUPPORTED: Final = (
    "Model {model} is not available for {method} fine-tuning; it supports: {supported}."
)

WARN_BLANK_LINES: Final = "{source}: skipped {count} blank line(s) ({lines})."
WARN_DUPLICATES: Final = "{source}: {count} example(s) repeat an earlier line exactly ({lines})."
WARN_OVER_LIMIT: Final = (
    "{source}: {count} example(s) are longer than the {limit:,}-token limit of {model} and "
    "will be truncated to {limit:,} tokens ({lines})."
)
WARN_UNUSED_KEYS: Final = (
    "{source}: {count} example(s) have keys that {format} fine-tuning does not use; they are "
    "ignored ({lines})."
)


# -- the checks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    code: str
    severity: str  # ERROR or WARNING
    title: str
    formats: frozenset[str]


ALL_FORMATS: Final = frozenset(
    {FORMAT_CHAT, FORMAT_PROMPT_COMPLETION, FORMAT_DPO, FORMAT_REINFORCEMENT}
)
MESSAGE_FORMATS: Final = frozenset({FORMAT_CHAT, FORMAT_DPO, FORMAT_REINFORCEMENT})
CHAT_FORMATS: Final = frozenset({FORMAT_CHAT, FORMAT_REINFORCEMENT})
ONLY_CHAT: Final = frozenset({FORMAT_CHAT})
ONLY_DPO: Final = frozenset({FORMAT_DPO})
ONLY_PROMPT_COMPLETION: Final = frozenset({FORMAT_PROMPT_COMPLETION})

INVALID_UTF8: Final = "invalid_utf8"
LINE_TOO_LONG: Final = "line_too_long"
INVALID_JSON: Final = "invalid_json"
DATA_TYPE: Final = "data_type"
WRONG_FORMAT: Final = "wrong_format"
MISSING_MESSAGES_LIST: Final = "missing_messages_list"
MESSAGE_TYPE: Final = "message_type"
MESSAGE_MISSING_KEY: Final = "message_missing_key"
MESSAGE_UNRECOGNIZED_KEY: Final = "message_unrecognized_key"
UNRECOGNIZED_ROLE: Final = "unrecognized_role"
MISSING_CONTENT: Final = "missing_content"
INVALID_CONTENT: Final = "invalid_content"
INVALID_WEIGHT: Final = "invalid_weight"
MISSING_ASSISTANT: Final = "example_missing_assistant_message"
INVALID_TOOLS: Final = "invalid_tools"
INVALID_TOOL_CALL: Final = "invalid_tool_call"
UNDECLARED_TOOL: Final = "undeclared_tool"
INVALID_TOKEN: Final = "invalid_token"
MISSING_PROMPT_COMPLETION: Final = "missing_prompt_completion"
DPO_MISSING_KEY: Final = "dpo_missing_key"
DPO_INVALID_INPUT: Final = "dpo_invalid_input"
DPO_INVALID_OUTPUT: Final = "dpo_invalid_output"
TOO_FEW_EXAMPLES: Final = "too_few_examples"
BLANK_LINE: Final = "blank_line"
DUPLICATE_EXAMPLE: Final = "duplicate_example"
OVER_TOKEN_LIMIT: Final = "over_token_limit"
UNUSED_KEYS: Final = "unused_example_keys"

CHECKS: Final = (
    Check(INVALID_UTF8, ERROR, "lines are UTF-8", ALL_FORMATS),
    Check(LINE_TOO_LONG, ERROR, f"lines are at most {MAX_LINE_BYTES:,} bytes", ALL_FORMATS),
    Check(INVALID_JSON, ERROR, "lines parse as JSON", ALL_FORMATS),
    Check(DATA_TYPE, ERROR, "lines are JSON objects", ALL_FORMATS),
    Check(WRONG_FORMAT, ERROR, "examples match the model and method", ALL_FORMATS),
    Check(MISSING_MESSAGES_LIST, ERROR, '"messages" is a non-empty list', CHAT_FORMATS),
    Check(DPO_MISSING_KEY, ERROR, "input and both outputs are present", ONLY_DPO),
    Check(DPO_INVALID_INPUT, ERROR, '"input" holds a list of messages', ONLY_DPO),
    Check(DPO_INVALID_OUTPUT, ERROR, "each output is one assistant message", ONLY_DPO),
    Check(MESSAGE_TYPE, ERROR, "messages are objects", MESSAGE_FORMATS),
    Check(MESSAGE_MISSING_KEY, ERROR, 'messages have a "role"', MESSAGE_FORMATS),
    Check(MESSAGE_UNRECOGNIZED_KEY, ERROR, "messages have no unknown keys", MESSAGE_FORMATS),
    Check(UNRECOGNIZED_ROLE, ERROR, "roles are known", MESSAGE_FORMATS),
    Check(MISSING_CONTENT, ERROR, "messages have content", MESSAGE_FORMATS),
    Check(INVALID_CONTENT, ERROR, "content is text or content parts", MESSAGE_FORMATS),
    Check(INVALID_WEIGHT, ERROR, "weight is 0 or 1, on assistant messages", MESSAGE_FORMATS),
    Check(MISSING_ASSISTANT, ERROR, "each example has an assistant message", ONLY_CHAT),
    Check(INVALID_TOOLS, ERROR, "tools / functions are well-formed", MESSAGE_FORMATS),
    Check(INVALID_TOOL_CALL, ERROR, "tool calls are well-formed", MESSAGE_FORMATS),
    Check(UNDECLARED_TOOL, ERROR, "tool calls name declared functions", MESSAGE_FORMATS),
    Check(
        MISSING_PROMPT_COMPLETION,
        ERROR,
        '"prompt" and "completion" are strings',
        ONLY_PROMPT_COMPLETION,
    ),
    Check(INVALID_TOKEN, ERROR, "no special tokens in text", ALL_FORMATS),
    Check(TOO_FEW_EXAMPLES, ERROR, f"at least {MIN_EXAMPLES} examples", ALL_FORMATS),
    Check(BLANK_LINE, WARNING, "blank lines (skipped)", ALL_FORMATS),
    Check(DUPLICATE_EXAMPLE, WARNING, "duplicate examples", ALL_FORMATS),
    Check(OVER_TOKEN_LIMIT, WARNING, "examples over the token limit (truncated)", ALL_FORMATS),
    Check(
        UNUSED_KEYS,
        WARNING,
        "example keys the format does not use (ignored)",
        frozenset({FORMAT_CHAT, FORMAT_PROMPT_COMPLETION, FORMAT_DPO}),
    ),
)
CHECKS_BY_CODE: Final[Mapping[str, Check]] = {check.code: check for check in CHECKS}


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    code: str
    severity: str
    title: str
    count: int  # lines with this problem (a line counts once per check)
    lines: tuple[int, ...]  # the first MAX_REPORTED_LINES of them, 1-based


@dataclass(frozen=True)
class TokenStats:
    """Tokens per valid example, before truncation."""

    n_examples: int
    min: int
    max: int
    total: int

    @property
    def mean(self) -> float:
        return self.total / self.n_examples if self.n_examples else 0.0


@dataclass(frozen=True)
class ValidationProblem:
    """The first problem, as a failed job reports it."""

    code: str  # invalid_training_file / invalid_validation_file
    message: str
    param: str
    check: str  # which check found it
    line: int | None  # None for a file-level problem


@dataclass(frozen=True)
class ValidationReport:
    model: str
    method: str
    format: str  # the format the model and method need
    purpose: str  # TRAINING_FILE or VALIDATION_FILE
    source: str
    tokenizer: str  # e.g. "bpe-openai:o200k_base"
    exact_tokens: bool
    n_lines: int  # lines read, blank ones included
    n_examples: int  # non-blank lines
    checks: tuple[CheckResult, ...]  # those that apply to `format`, in CHECKS order
    tokens: TokenStats
    token_limit: int
    billable_tokens: int  # sum over valid examples of min(tokens, token_limit)
    error: ValidationProblem | None
    warnings: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return self.error is None

    def check(self, code: str) -> CheckResult:
        for result in self.checks:
            if result.code == code:
                return result
        raise KeyError(code)

    def job_error(self) -> dict[str, str] | None:
        if self.error is None:
            return None
        return {"code": self.error.code, "message": self.error.message, "param": self.error.param}

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "method": self.method,
            "format": self.format,
            "purpose": self.purpose,
            "source": self.source,
            "tokenizer": self.tokenizer,
            "exact_tokens": self.exact_tokens,
            "valid": self.valid,
            "n_lines": self.n_lines,
            "n_examples": self.n_examples,
            "checks": [
                {
                    "code": c.code,
                    "severity": c.severity,
                    "title": c.title,
                    "count": c.count,
                    "lines": list(c.lines),
                }
                for c in self.checks
            ],
            "tokens": {
                "n_examples": self.tokens.n_examples,
                "min": self.tokens.min,
                "mean": round(self.tokens.mean, 1),
                "max": self.tokens.max,
                "total": self.tokens.total,
            },
            "token_limit": self.token_limit,
            "examples_over_limit": self.check(OVER_TOKEN_LIMIT).count,
            "billable_tokens": self.billable_tokens,
            "error": (
                None
                if self.error is None
                else {
                    "code": self.error.code,
                    "message": self.error.message,
                    "param": self.error.param,
                    "check": self.error.check,
                    "line": self.error.line,
                }
            ),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class CostEstimate:
    n_epochs: int  # what "auto" resolves to for this many examples
    billed_tokens: int  # billable tokens x epochs
    price_per_1m_tokens: float | None
    price_per_hour: float | None  # models billed by training time: no token estimate
    cost: float | None  # dollars; None when billed per hour


# -- the public functions -----------------------------------------------------------------


def expected_format(spec: FineTuningSpec, method: str) -> str:
    if method == METHOD_DPO:
        return FORMAT_DPO
    if method == METHOD_REINFORCEMENT:
        return FORMAT_REINFORCEMENT
    return spec.format


def method_error(model: str, spec: FineTuningSpec, method: str) -> str | None:
    """Why ``model`` cannot be fine-tuned with ``method`` (None if it can): a request-time
    problem, rejected at job creation before any file is read."""
    if spec.supports(method):
        return None
    return MSG_METHOD_UNSUPPORTED.format(
        model=model, method=method, supported=", ".join(spec.methods)
    )


def estimate_cost(
    report: ValidationReport, spec: FineTuningSpec, n_epochs: int | None = None
) -> CostEstimate:
    """What training on this file costs with ``n_epochs`` (default: what "auto" picks)."""
    if n_epochs is None:
        hyper = lifecycle.resolve_hyperparameters(
            lifecycle.RequestedHyperparameters(), report.n_examples
        )
        n_epochs = hyper.n_epochs
    billed = report.billable_tokens * n_epochs
    price = spec.training_price_per_1m_tokens
    return CostEstimate(
        n_epochs=n_epochs,
        billed_tokens=billed,
        price_per_1m_tokens=price,
        price_per_hour=spec.training_price_per_hour,
        cost=None if price is None else billed * price / PER_MILLION,
    )


def validate_file(
    chunks: Iterable[bytes],
    *,
    model: str,
    model_spec: FineTuningSpec,
    method: str = METHOD_SUPERVISED,
    purpose: str = TRAINING_FILE,
    source: str = "",
    encoding: str | None = None,
) -> ValidationReport:
    """Check a whole JSONL file for fine-tuning ``model`` (its catalog spec) with ``method``.

    ``purpose`` is the job parameter the file was given as; it picks the error code and
    whether the minimum example count applies. ``source`` (a file id or a path) names the
    file in messages. ``encoding`` defaults to the model's.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if purpose not in ERROR_CODES:
        raise ValueError(f"unknown purpose {purpose!r}; expected one of {', '.join(ERROR_CODES)}")
    validator = _Validator(
        model=model,
        spec=model_spec,
        method=method,
        purpose=purpose,
        source=source,
        counter=tokens.get_counter(encoding or tokens.encoding_for_model(model)),
    )
    for number, line in enumerate(lines(chunks, MAX_LINE_BYTES), start=1):
        validator.line(number, line)
    return validator.report()


# -- reading lines ------------------------------------------------------------------------


def lines(chunks: Iterable[bytes], max_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes | None]:
    """The file's lines without their newline; None for a line longer than ``max_bytes``
    (which is skipped, not buffered). A final newline does not start another line. Holds
    one chunk and one line at a time."""
    pending: list[bytes] = []  # the start of a line that began in an earlier chunk
    pending_size = 0
    overflow = False
    for chunk in chunks:
        start = 0
        newline = chunk.find(b"\n")
        while newline >= 0:
            if pending or overflow:
                if overflow or pending_size + newline - start > max_bytes:
                    yield None
                else:
                    pending.append(chunk[start:newline])
                    yield b"".join(pending)
                pending, pending_size, overflow = [], 0, False
            else:
                yield chunk[start:newline] if newline - start <= max_bytes else None
            start = newline + 1
            newline = chunk.find(b"\n", start)
        if start < len(chunk) and not overflow:
            pending_size += len(chunk) - start
            if pending_size > max_bytes:
                pending, overflow = [], True
            else:
                pending.append(chunk[start:])
        del chunk  # before the next one is read
    if overflow:
        yield None
    elif pending:
        yield b"".join(pending)


# -- duplicate detection in bounded memory ------------------------------------------------


class _Fingerprints:
    """A set of 64-bit fingerprints in an open-addressing table that never grows past
    FINGERPRINT_MAX_SLOTS; once that is FINGERPRINT_MAX_FILL full, new lines are only
    compared, not remembered."""

    def __init__(self) -> None:
        self._slots = array("Q", bytes(8 * FINGERPRINT_INITIAL_SLOTS))
        self._used = 0

    def seen_before(self, value: int) -> bool:
        """Whether ``value`` was added before; adds it if there is room."""
        fingerprint = (value & FINGERPRINT_MASK) or 1  # 0 marks an empty slot
        slots = self._slots
        mask = len(slots) - 1
        index = fingerprint & mask
        while True:
            current = slots[index]
            if current == fingerprint:
                return True
            if current == 0:
                break
            index = (index + 1) & mask
        if self._used >= len(slots) * FINGERPRINT_MAX_FILL:
            if len(slots) >= FINGERPRINT_MAX_SLOTS:
                return False
            self._grow()
            return self.seen_before(value)
        slots[index] = fingerprint
        self._used += 1
        return False

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("Q", bytes(16 * len(old)))
        mask = len(self._slots) - 1
        for fingerprint in old:
            if fingerprint:
                index = fingerprint & mask
                while self._slots[index]:
                    index = (index + 1) & mask
                self._slots[index] = fingerprint


# -- the validator ------------------------------------------------------------------------


@dataclass
class _Tally:
    count: int = 0
    last_line: int = 0
    lines: list[int] = field(default_factory=list)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)


def _type_name(value: object) -> str:
    return JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _quoted(values: Iterable[object]) -> str:
    return ", ".join(json.dumps(value, ensure_ascii=False) for value in values)


def _line_list(lines: list[int], count: int) -> str:
    shown = ", ".join(str(line) for line in lines)
    more = count - len(lines)
    word = "line" if count == 1 else "lines"
    return f"{word} {shown}" + (f" and {more} more" if more > 0 else "")


def _special_token(text: str) -> str | None:
    if SPECIAL_TOKEN_MARK not in text:
        return None
    for token in tokens.SPECIAL_TOKENS:
        if token in text:
            return token
    return None


class _Validator:
    def __init__(
        self,
        *,
        model: str,
        spec: FineTuningSpec,
        method: str,
        purpose: str,
        source: str,
        counter: tokens.TokenCounter,
    ) -> None:
        self.model = model
        self.spec = spec
        self.method = method
        self.purpose = purpose
        self.source = source
        self.counter = counter
        self.format = expected_format(spec, method)
        self.limit = spec.max_tokens_per_example
        self.tallies: dict[str, _Tally] = {check.code: _Tally() for check in CHECKS}
        self.first_error: ValidationProblem | None = None
        self.n_lines = 0
        self.n_examples = 0
        self.n_counted = 0
        self.min_tokens = 0
        self.max_tokens = 0
        self.total_tokens = 0
        self.billable = 0
        self.line_failed = False
        self.fingerprints = _Fingerprints()
        self.roles = REINFORCEMENT_ROLES if self.format == FORMAT_REINFORCEMENT else CHAT_ROLES

    # -- bookkeeping

    def flag(self, code: str, line: int, message: str | None = None) -> None:
        """Record that ``line`` fails check ``code``; errors carry their message."""
        tally = self.tallies[code]
        if tally.last_line != line:
            tally.last_line = line
            tally.count += 1
            if len(tally.lines) < MAX_REPORTED_LINES:
                tally.lines.append(line)
        if message is not None:
            self.line_failed = True
            if self.first_error is None:
                self.first_error = ValidationProblem(
                    code=ERROR_CODES[self.purpose],
                    message=message,
                    param=self.purpose,
                    check=code,
                    line=line,
                )

    # -- one line

    def line(self, number: int, raw: bytes | None) -> None:
        self.n_lines = number
        if raw is None:
            self.n_examples += 1
            self.flag(
                LINE_TOO_LONG, number, MSG_LINE_TOO_LONG.format(line=number, limit=MAX_LINE_BYTES)
            )
            return
        if not raw or raw.isspace():
            self.flag(BLANK_LINE, number)
            return
        self.n_examples += 1
        self.line_failed = False
        if self.fingerprints.seen_before(hash(raw.rstrip())):
            self.flag(DUPLICATE_EXAMPLE, number)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            detail = f"invalid byte 0x{raw[exc.start]:02x} at position {exc.start}"
            self.flag(INVALID_UTF8, number, MSG_INVALID_UTF8.format(line=number, detail=detail))
            return
        if number == 1 and text.startswith(BYTE_ORDER_MARK):
            text = text[len(BYTE_ORDER_MARK) :]
        try:
            example = _DECODER.decode(text)
        except ValueError as exc:
            self.flag(INVALID_JSON, number, MSG_INVALID_JSON.format(line=number, detail=exc))
            return
        except RecursionError:
            message = MSG_INVALID_JSON.format(line=number, detail=TOO_DEEP)
            self.flag(INVALID_JSON, number, message)
            return
        if type(example) is not dict:
            preview = json.dumps(text.strip()[:LINE_PREVIEW_CHARS], ensure_ascii=False)
            self.flag(DATA_TYPE, number, MSG_DATA_TYPE.format(line=number, preview=preview))
            return
        try:
            self.example(number, example)
            if not self.line_failed:
                self.count_tokens(number, example)
        except RecursionError:  # nesting deep enough to parse, not to walk again
            message = MSG_INVALID_JSON.format(line=number, detail=TOO_DEEP)
            self.flag(INVALID_JSON, number, message)

    def count_tokens(self, line: int, example: dict[str, Any]) -> None:
        count = tokens.example_tokens(example, self.counter.count)
        if self.n_counted == 0 or count < self.min_tokens:
            self.min_tokens = count
        if count > self.max_tokens:
            self.max_tokens = count
        self.n_counted += 1
        self.total_tokens += count
        if count > self.limit:
            self.flag(OVER_TOKEN_LIMIT, line)
            count = self.limit
        self.billable += count

    # -- formats

    def example(self, line: int, example: dict[str, Any]) -> None:
        found = _format_of(example)
        wanted = FORMAT_CHAT if self.format == FORMAT_REINFORCEMENT else self.format
        if found is not None and found != wanted:
            self.flag(
                WRONG_FORMAT,
                line,
                MSG_WRONG_FORMAT.format(
                    line=line,
                    found=FORMAT_NAMES[found],
                    model=self.model,
                    method=self.method,
                    expected=FORMAT_PLURALS[self.format],
                ),
            )
            return
        if self.format == FORMAT_PROMPT_COMPLETION:
            self.prompt_completion(line, example)
        elif self.format == FORMAT_DPO:
            self.dpo(line, example)
        else:
            self.chat(line, example)

    def chat(self, line: int, example: dict[str, Any]) -> None:
        messages = example.get("messages")
        if type(messages) is not list or not messages:
            if messages is None:
                message = MSG_MESSAGES_MISSING.format(line=line)
            elif type(messages) is list:
                message = MSG_MESSAGES_EMPTY.format(line=line)
            else:
                message = MSG_MESSAGES_TYPE.format(line=line, type=_type_name(messages))
            self.flag(MISSING_MESSAGES_LIST, line, message)
            return
        tools, functions = self.definitions(line, example)
        has_assistant = self.messages(line, messages, tools, functions, weights=True)
        if self.format == FORMAT_CHAT:
            if not has_assistant:
                self.flag(MISSING_ASSISTANT, line, MSG_NO_ASSISTANT.format(line=line))
            if not CHAT_EXAMPLE_KEYS.issuperset(example):
                self.flag(UNUSED_KEYS, line)

    def prompt_completion(self, line: int, example: dict[str, Any]) -> None:
        for key in PROMPT_COMPLETION_KEYS:
            if key not in example:
                message = MSG_PROMPT_MISSING.format(line=line, key=key)
                self.flag(MISSING_PROMPT_COMPLETION, line, message)
                continue
            value = example[key]
            if type(value) is not str:
                message = MSG_PROMPT_TYPE.format(line=line, key=key, type=_type_name(value))
                self.flag(MISSING_PROMPT_COMPLETION, line, message)
                continue
            self.text(line, value, f'key "{key}"')
        if not PROMPT_COMPLETION_EXAMPLE_KEYS.issuperset(example):
            self.flag(UNUSED_KEYS, line)

    def dpo(self, line: int, example: dict[str, Any]) -> None:
        for key in DPO_KEYS:
            if key not in example:
                self.flag(DPO_MISSING_KEY, line, MSG_DPO_MISSING.format(line=line, key=key))
                return
        source = example["input"]
        tools, functions = self.definitions(line, example)
        messages = source.get("messages") if type(source) is dict else None
        if type(source) is not dict or type(messages) is not list or not messages:
            self.flag(DPO_INVALID_INPUT, line, MSG_DPO_INPUT.format(line=line))
            messages = []
        else:
            input_tools, input_functions = self.definitions(line, source)
            tools, functions = tools | input_tools, functions | input_functions
            self.messages(line, messages, tools, functions, weights=False)
            if not DPO_INPUT_KEYS.issuperset(source):
                self.flag(UNUSED_KEYS, line)
        for key in DPO_OUTPUT_KEYS:
            output = example[key]
            if (
                type(output) is not list
                or len(output) != 1
                or type(output[0]) is not dict
                or output[0].get("role") != ASSISTANT
            ):
                self.flag(DPO_INVALID_OUTPUT, line, MSG_DPO_OUTPUT.format(line=line, key=key))
            else:
                start = len(messages) + 1  # numbered after the input's messages
                self.messages(line, output, tools, functions, weights=False, start=start)
        if not DPO_EXAMPLE_KEYS.issuperset(example):
            self.flag(UNUSED_KEYS, line)

    # -- parts

    def _declared(
        self, line: int, holder: dict[str, Any], key: str, problem: str, *, nested: bool
    ) -> set[str]:
        """The names declared under ``key`` (``tools`` or ``functions``); a malformed list
        is flagged once."""
        names: set[str] = set()
        declared = holder.get(key)
        if declared is None:
            return names
        ok = type(declared) is list
        for entry in declared if ok else ():
            name = _declared_name(entry, nested=nested)
            if name is None:
                ok = False
            else:
                names.add(name)
        if not ok:
            message = MSG_INVALID_TOOLS.format(line=line, key=key, problem=problem)
            self.flag(INVALID_TOOLS, line, message)
        return names

    def definitions(
        self, line: int, holder: dict[str, Any]
    ) -> tuple[frozenset[str], frozenset[str]]:
        """The function names declared in ``tools`` and in ``functions``."""
        tool_names = self._declared(line, holder, "tools", TOOLS_PROBLEM, nested=True)
        function_names = self._declared(line, holder, "functions", FUNCTIONS_PROBLEM, nested=False)
        parallel = holder.get("parallel_tool_calls")
        if parallel is not None and type(parallel) is not bool:
            problem = PARALLEL_PROBLEM.format(type=_type_name(parallel))
            message = MSG_INVALID_TOOLS.format(
                line=line, key="parallel_tool_calls", problem=problem
            )
            self.flag(INVALID_TOOLS, line, message)
        return frozenset(tool_names), frozenset(function_names)

    def messages(
        self,
        line: int,
        messages: list[Any],
        tools: frozenset[str],
        functions: frozenset[str],
        *,
        weights: bool,
        start: int = 1,
    ) -> bool:
        """Check each message; whether one of them is the assistant's."""
        has_assistant = False
        roles = self.roles
        for index, message in enumerate(messages, start=start):
            if type(message) is not dict:
                text = MSG_MESSAGE_TYPE.format(line=line, index=index, type=_type_name(message))
                self.flag(MESSAGE_TYPE, line, text)
                continue
            if not MESSAGE_KEYS.issuperset(message):
                unknown = sorted(key for key in message if key not in MESSAGE_KEYS)
                text = MSG_UNRECOGNIZED_KEY.format(
                    line=line,
                    index=index,
                    keys=_quoted(unknown),
                    allowed=", ".join(MESSAGE_KEYS_SHOWN),
                )
                self.flag(MESSAGE_UNRECOGNIZED_KEY, line, text)
            role = message.get("role")
            if role is None:
                self.flag(
                    MESSAGE_MISSING_KEY, line, MSG_MISSING_ROLE.format(line=line, index=index)
                )
            elif type(role) is not str or role not in roles:
                text = MSG_UNRECOGNIZED_ROLE.format(
                    line=line, index=index, role=_quoted([role]), allowed=", ".join(sorted(roles))
                )
                self.flag(UNRECOGNIZED_ROLE, line, text)
            is_assistant = role == ASSISTANT
            if is_assistant:
                has_assistant = True
            for key in STRING_MESSAGE_KEYS:
                value = message.get(key)
                if value is not None and type(value) is not str:
                    text = MSG_STRING_KEY.format(
                        line=line, index=index, key=key, type=_type_name(value)
                    )
                    self.flag(INVALID_CONTENT, line, text)
            calls = self.calls(line, index, message, is_assistant, tools, functions)
            self.content(line, index, message, role, is_assistant and calls)
            if "weight" in message:
                self.weight(line, index, message["weight"], role, weights)
        return has_assistant

    def content(
        self, line: int, index: int, message: dict[str, Any], role: object, calls: bool
    ) -> None:
        content = message.get("content")
        if type(content) is str:
            if content:
                self.text(line, content, f"message {index}")
                return
        elif type(content) is list:
            if content:
                self.parts(line, index, content)
                return
        elif content is not None:
            text = MSG_CONTENT_TYPE.format(line=line, index=index, type=_type_name(content))
            self.flag(INVALID_CONTENT, line, text)
            return
        if not calls:
            alternative = MSG_MISSING_CONTENT_ALT if role == ASSISTANT else ""
            shown = role if type(role) is str else "no role"
            text = MSG_MISSING_CONTENT.format(line=line, index=index, role=shown, alt=alternative)
            self.flag(MISSING_CONTENT, line, text)

    def parts(self, line: int, index: int, parts: list[Any]) -> None:
        for number, part in enumerate(parts, start=1):
            kind = part.get("type") if type(part) is dict else None
            if kind == TEXT_PART and type(part.get("text")) is str:
                self.text(line, part["text"], f"message {index}")
                continue
            image = part.get(IMAGE_PART) if kind == IMAGE_PART else None
            if type(image) is dict and type(image.get("url")) is str:
                continue
            text = MSG_CONTENT_PART.format(line=line, index=index, part=number)
            self.flag(INVALID_CONTENT, line, text)

    def text(self, line: int, text: str, where: str) -> None:
        token = _special_token(text)
        if token is not None:
            message = MSG_INVALID_TOKEN.format(line=line, where=where, token=token)
            self.flag(INVALID_TOKEN, line, message)

    def weight(self, line: int, index: int, weight: object, role: object, allowed: bool) -> None:
        if not allowed:
            self.flag(INVALID_WEIGHT, line, MSG_WEIGHT_FORMAT.format(line=line, index=index))
        elif role != ASSISTANT:
            shown = role if type(role) is str else "role-less"
            self.flag(
                INVALID_WEIGHT, line, MSG_WEIGHT_ROLE.format(line=line, index=index, role=shown)
            )
        elif type(weight) not in (int, float) or weight not in ALLOWED_WEIGHTS:
            shown = json.dumps(weight, ensure_ascii=False)
            self.flag(
                INVALID_WEIGHT, line, MSG_WEIGHT_VALUE.format(line=line, index=index, value=shown)
            )

    def calls(
        self,
        line: int,
        index: int,
        message: dict[str, Any],
        is_assistant: bool,
        tools: frozenset[str],
        functions: frozenset[str],
    ) -> bool:
        """Check ``tool_calls`` and ``function_call``; whether the message has any."""
        has_calls = False
        for key, declared, problem in (
            ("tool_calls", tools, TOOL_CALLS_PROBLEM),
            ("function_call", functions, FUNCTION_CALL_PROBLEM),
        ):
            value = message.get(key)
            if value is None:
                continue
            has_calls = True
            if not is_assistant:
                text = MSG_INVALID_TOOL_CALL.format(
                    line=line, index=index, key=key, problem=CALLS_ROLE_PROBLEM
                )
                self.flag(INVALID_TOOL_CALL, line, text)
                continue
            calls = value if key == "tool_calls" else [{"function": value}]
            names, wrong = _called_names(calls, nested=key == "tool_calls")
            if wrong is not None:
                text = MSG_INVALID_TOOL_CALL.format(
                    line=line, index=index, key=key, problem=wrong or problem
                )
                self.flag(INVALID_TOOL_CALL, line, text)
                continue
            for name in names:
                if name not in declared:
                    declared_in = "tools" if key == "tool_calls" else "functions"
                    text = MSG_UNDECLARED_TOOL.format(
                        line=line, index=index, name=name, key=declared_in
                    )
                    self.flag(UNDECLARED_TOOL, line, text)
        return has_calls

    # -- the end

    def report(self) -> ValidationReport:
        minimum = MIN_EXAMPLES if self.purpose == TRAINING_FILE else 0
        label = f"{SOURCE_LABELS[self.purpose]} {self.source}".rstrip()
        if self.n_examples < minimum:
            message = MSG_TOO_FEW.format(source=label, count=self.n_examples, minimum=minimum)
            self.tallies[TOO_FEW_EXAMPLES].count = 1
            if self.first_error is None:
                self.first_error = ValidationProblem(
                    code=ERROR_CODES[self.purpose],
                    message=message,
                    param=self.purpose,
                    check=TOO_FEW_EXAMPLES,
                    line=None,
                )
        warnings = []
        for code, template in (
            (BLANK_LINE, WARN_BLANK_LINES),
            (DUPLICATE_EXAMPLE, WARN_DUPLICATES),
            (OVER_TOKEN_LIMIT, WARN_OVER_LIMIT),
            (UNUSED_KEYS, WARN_UNUSED_KEYS),
        ):
            tally = self.tallies[code]
            if tally.count:
                warnings.append(
                    template.format(
                        source=label,
                        count=tally.count,
                        lines=_line_list(tally.lines, tally.count),
                        limit=self.limit,
                        model=self.model,
                        format=self.format.replace("_", "/"),
                    )
                )
        checks = tuple(
            CheckResult(
                code=check.code,
                severity=check.severity,
                title=check.title,
                count=self.tallies[check.code].count,
                lines=tuple(self.tallies[check.code].lines),
            )
            for check in CHECKS
            if self.format in check.formats
        )
        return ValidationReport(
            model=self.model,
            method=self.method,
            format=self.format,
            purpose=self.purpose,
            source=self.source,
            tokenizer=self.counter.name,
            exact_tokens=self.counter.exact,
            n_lines=self.n_lines,
            n_examples=self.n_examples,
            checks=checks,
            tokens=TokenStats(
                n_examples=self.n_counted,
                min=self.min_tokens,
                max=self.max_tokens,
                total=self.total_tokens,
            ),
            token_limit=self.limit,
            billable_tokens=self.billable,
            error=self.first_error,
            warnings=tuple(warnings),
        )


def _format_of(example: Mapping[str, Any]) -> str | None:
    if "messages" in example:
        return FORMAT_CHAT
    if any(key in example for key in DPO_KEYS):
        return FORMAT_DPO
    if any(key in example for key in PROMPT_COMPLETION_KEYS):
        return FORMAT_PROMPT_COMPLETION
    return None


def _declared_name(definition: object, *, nested: bool) -> str | None:
    """The name of a well-formed tool (``nested``) or legacy function definition."""
    if type(definition) is not dict:
        return None
    if nested:
        if definition.get("type", FUNCTION_TYPE) != FUNCTION_TYPE:
            return None
        definition = definition.get("function")
        if type(definition) is not dict:
            return None
    name = definition.get("name")
    return name if type(name) is str else None


def _called_names(calls: object, *, nested: bool) -> tuple[list[str], str | None]:
    """The function names of well-formed calls, and what is wrong with them ("" when they
    are not shaped like calls at all; None when nothing is). ``nested``: ``tool_calls``
    entries, whose function sits under "function" beside "type"."""
    if type(calls) is not list or not calls:
        return [], ""
    names = []
    for call in calls:
        if type(call) is not dict:
            return [], ""
        if nested and call.get("type", FUNCTION_TYPE) != FUNCTION_TYPE:
            return [], ""
        function = call.get("function")
        name = function.get("name") if type(function) is dict else None
        if type(function) is not dict or type(name) is not str:
            return [], ""
        arguments = function.get("arguments")
        if type(arguments) is not str:
            return [], ARGUMENTS_PROBLEM.format(name=name, type=_type_name(arguments))
        names.append(name)
    return names, None
