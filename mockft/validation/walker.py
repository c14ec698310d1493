"""The walk: every line of a file through every check, in one pass.

Pure and streaming: no I/O, no clock. Memory holds one chunk and one line at a time (a line
longer than ``reader.MAX_LINE_BYTES`` is skipped, not buffered), the token counter's bounded
caches and the duplicate fingerprints, whatever the file's size.

The file's format is the format of its first example (a JSON object): a file in another
format than the job needs fails as a whole, as the real service fails it ("Input file ... is
in the fine-tune-chat format, but ..."), and its lines are not walked further. Within a file
of the right format, each example is checked against that format.

Decisions where the real service's behaviour is not published:

- Blank (whitespace-only) lines are skipped, not examples, and reported as a warning; the
  Files API of mockft skips them too. The final newline of a file is not a blank line.
- A UTF-8 byte-order mark at the start of the file is ignored; any other invalid UTF-8 fails.
- ``NaN`` / ``Infinity`` are not JSON and fail like any unparseable line.
- Duplicates are byte-identical lines (after trailing whitespace); they are only a warning.
- Reinforcement examples may carry any extra keys: graders read them.
- Examples longer than the model's ``max_tokens_per_example`` are truncated, not rejected:
  a warning, and only ``max_tokens_per_example`` of them are billed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from mockft import tokens
from mockft.catalog import FineTuningSpec
from mockft.validation import fingerprints, images, messages, reader
from mockft.validation.checks import (
    BLANK_LINE,
    CHECKS,
    DATA_TYPE,
    DPO_INVALID_INPUT,
    DPO_INVALID_OUTPUT,
    DPO_MISSING_KEY,
    DUPLICATE_EXAMPLE,
    EXTRA_KEYS,
    INVALID_CONTENT,
    INVALID_IMAGE,
    INVALID_JSON,
    INVALID_TOKEN,
    INVALID_TOOL_CALL,
    INVALID_TOOLS,
    INVALID_UTF8,
    INVALID_WEIGHT,
    LINE_TOO_LONG,
    MESSAGE_MISSING_KEY,
    MESSAGE_TYPE,
    MESSAGE_UNRECOGNIZED_KEY,
    MIN_EXAMPLES,
    MISSING_ASSISTANT,
    MISSING_CONTENT,
    MISSING_MESSAGES_LIST,
    MISSING_PROMPT_COMPLETION,
    OVER_TOKEN_LIMIT,
    SKIPPED_IMAGE,
    TOO_FEW_EXAMPLES,
    UNDECLARED_TOOL,
    UNRECOGNIZED_ROLE,
    WRONG_FORMAT,
)
from mockft.validation.formats import (
    ALLOWED_WEIGHTS,
    ASSISTANT,
    CHAT_EXAMPLE_KEYS,
    CHAT_ROLES,
    DPO_EXAMPLE_KEYS,
    DPO_INPUT_KEYS,
    DPO_KEYS,
    DPO_OUTPUT_KEYS,
    FORMAT_CHAT,
    FORMAT_DPO,
    FORMAT_PROMPT_COMPLETION,
    FORMAT_REINFORCEMENT,
    FUNCTION_TYPE,
    IMAGE_PART,
    MESSAGE_KEYS,
    MESSAGES_KEY,
    METHODS,
    PROMPT_COMPLETION_EXAMPLE_KEYS,
    PROMPT_COMPLETION_KEYS,
    PURPOSES,
    REINFORCEMENT_ROLES,
    STRING_MESSAGE_KEYS,
    TEXT_PART,
    TRAINING_FILE,
    expected_format,
    format_of,
    written_as,
)
from mockft.validation.report import (
    CheckResult,
    TokenStats,
    ValidationProblem,
    ValidationReport,
)

MAX_REPORTED_LINES: Final = 5  # line numbers kept per check
BYTE_ORDER_MARK: Final = "\ufeff"
SPECIAL_TOKEN_MARK: Final = "<|"

# Where the walk stands with the file's format: not seen yet, the job's, or another.
_UNDECIDED: Final = 0
_MATCHED: Final = 1
_MISMATCHED: Final = 2


def method_error(model: str, spec: FineTuningSpec, method: str) -> str | None:
    """Why ``model`` cannot be fine-tuned with ``method`` (None if it can): a request-time
    problem, rejected at job creation before any file is read."""
    if spec.supports(method):
        return None
    return messages.METHOD_UNSUPPORTED.format(
        model=model, method=method, supported=", ".join(spec.methods)
    )


def validate_file(
    chunks: Iterable[bytes],
    *,
    model: str,
    model_spec: FineTuningSpec,
    method: str = METHODS[0],
    purpose: str = TRAINING_FILE,
    source: str = "",
    encoding: str | None = None,
) -> ValidationReport:
    """Check a whole JSONL file for fine-tuning ``model`` (its catalog spec) with ``method``.

    ``purpose`` is the job parameter the file was given as; it picks the error code and
    whether the minimum example count applies. ``source`` (a file id or a path) names the
    file in messages. ``encoding`` defaults to the model's.
    """
    walker = Walker(
        model=model,
        model_spec=model_spec,
        method=method,
        purpose=purpose,
        source=source,
        encoding=encoding,
    )
    walker.walk(chunks)
    return walker.report()


# -- the walker ---------------------------------------------------------------------------


@dataclass
class _Tally:
    count: int = 0
    last_line: int = 0
    lines: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Summary:
    """What a walk of some lines found: ``Walker.summary``, for ``Walker.absorb``."""

    n_lines: int  # the number of the last line walked (0: none)
    n_examples: int
    n_counted: int
    min_tokens: int
    max_tokens: int
    total_tokens: int
    billable: int
    tallies: dict[str, _Tally]
    first_error: ValidationProblem | None
    image_examples: int
    skip_reasons: dict[str, int]
    file_state: int


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)


def _special_token(text: str) -> str | None:
    if SPECIAL_TOKEN_MARK not in text:
        return None
    for token in tokens.SPECIAL_TOKENS:
        if token in text:
            return token
    return None


def _first_extra(example: dict[str, Any], allowed: frozenset[str]) -> str | None:
    for key in example:
        if key not in allowed:
            return key
    return None


class Walker:
    """The walk of a file's lines, or of a run of them (a byte range that starts a line):
    ``walk`` the lines, then ``report``. A run's walk can be folded into the walk of the
    lines before it (``summary``, ``absorb``), and the result is the same as walking both
    runs in one walker: this is how a file is validated in two processes.

    A walker of a later run starts at line ``first_line``, learns how the lines before
    decided the file's format with ``decide_from``, and with ``duplicates=False`` does not
    look for duplicate lines: the walker of the lines before does that (``fingerprint``),
    since a duplicate's original may be there."""

    def __init__(
        self,
        *,
        model: str,
        model_spec: FineTuningSpec,
        method: str = METHODS[0],
        purpose: str = TRAINING_FILE,
        source: str = "",
        encoding: str | None = None,
        first_line: int = 1,
        duplicates: bool = True,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
        if purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}; expected one of {', '.join(PURPOSES)}")
        spec = model_spec
        counter = tokens.get_counter(encoding or tokens.encoding_for_model(model))
        self.model = model
        self.spec = spec
        self.method = method
        self.purpose = purpose
        self.source = source
        self.counter = counter
        self.format = expected_format(spec, method)
        self.written = written_as(self.format)
        self.file_state = _UNDECIDED
        self.next_line = first_line
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
        self.fingerprints = (
            fingerprints.Fingerprints(fingerprints.FINGERPRINT_MAX_SLOTS) if duplicates else None
        )
        self.roles = REINFORCEMENT_ROLES if self.format == FORMAT_REINFORCEMENT else CHAT_ROLES
        # images: of this line (how many, what those kept cost), examples with any, and
        # why images were skipped
        self.line_images = 0
        self.line_image_tokens = 0
        self.image_examples = 0
        self.skip_reasons: dict[str, int] = {}

    # -- walking

    def walk(self, chunks: Iterable[bytes]) -> None:
        """Walk the lines of ``chunks``, numbered on from the lines walked before."""
        max_bytes = reader.MAX_LINE_BYTES
        for number, line in enumerate(reader.lines(chunks, max_bytes), start=self.next_line):
            self.line(number, line, max_bytes)
        self.next_line = max(self.next_line, self.n_lines + 1)

    def fingerprint(self, chunks: Iterable[bytes], first_line: int) -> None:
        """Only the duplicate check, on lines walked elsewhere (numbered from
        ``first_line``): exactly what ``line`` records of them in that check."""
        if self.fingerprints is None:
            return
        seen_before = self.fingerprints.seen_before
        for number, raw in enumerate(reader.lines(chunks, reader.MAX_LINE_BYTES), first_line):
            if raw and not raw.isspace() and seen_before(hash(raw.rstrip())):
                self.flag(DUPLICATE_EXAMPLE, number)

    def decide_from(self, chunks: Iterable[bytes]) -> None:
        """Decide the file's format from the first example among the lines of ``chunks``
        (the file's first lines, walked elsewhere), as ``line`` decides it, recording
        nothing else; undecided when those lines hold no example."""
        for number, raw in enumerate(reader.lines(chunks, reader.MAX_LINE_BYTES), start=1):
            if not raw or raw.isspace():
                continue
            try:
                text = raw.decode("utf-8")
                if number == 1 and text.startswith(BYTE_ORDER_MARK):
                    text = text[len(BYTE_ORDER_MARK) :]
                example = _DECODER.decode(text)
            except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                continue
            if type(example) is dict:
                found = format_of(example) == self.written
                self.file_state = _MATCHED if found else _MISMATCHED
                return

    def summary(self) -> Summary:
        """What this walk found, to be folded into the walk of the lines before."""
        return Summary(
            n_lines=self.n_lines,
            n_examples=self.n_examples,
            n_counted=self.n_counted,
            min_tokens=self.min_tokens,
            max_tokens=self.max_tokens,
            total_tokens=self.total_tokens,
            billable=self.billable,
            tallies=self.tallies,
            first_error=self.first_error,
            image_examples=self.image_examples,
            skip_reasons=self.skip_reasons,
            file_state=self.file_state,
        )

    def absorb(self, later: Summary) -> None:
        """Fold in the walk of the lines right after these: as if this walker had walked
        them too (their duplicates excepted: see ``fingerprint``)."""
        if later.n_lines:
            self.n_lines = later.n_lines
            self.next_line = later.n_lines + 1
        self.n_examples += later.n_examples
        if later.n_counted:
            if self.n_counted == 0 or later.min_tokens < self.min_tokens:
                self.min_tokens = later.min_tokens
            self.max_tokens = max(self.max_tokens, later.max_tokens)
        self.n_counted += later.n_counted
        self.total_tokens += later.total_tokens
        self.billable += later.billable
        for code, tally in later.tallies.items():
            mine = self.tallies[code]
            if tally.count:
                mine.count += tally.count
                mine.last_line = tally.last_line
                mine.lines = (mine.lines + tally.lines)[:MAX_REPORTED_LINES]
        if self.first_error is None:
            self.first_error = later.first_error
        self.image_examples += later.image_examples
        for reason, count in later.skip_reasons.items():
            self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + count
        if self.file_state == _UNDECIDED:
            self.file_state = later.file_state

    # -- bookkeeping

    def flag(self, code: str, line: int | None, problem: str | None = None) -> None:
        """Record that ``line`` (None: the whole file) fails check ``code``; errors carry
        the problem as the real service words it."""
        tally = self.tallies[code]
        number = line or 0
        if tally.count == 0 or tally.last_line != number:
            tally.last_line = number
            tally.count += 1
            if line is not None and len(tally.lines) < MAX_REPORTED_LINES:
                tally.lines.append(line)
        if problem is not None:
            self.line_failed = True
            if self.first_error is None:
                self.first_error = ValidationProblem(
                    code=messages.ERROR_CODES[self.purpose],
                    message=messages.job_message(self.purpose, problem),
                    param=self.purpose,
                    check=code,
                    line=line,
                )

    # -- one line

    def line(self, number: int, raw: bytes | None, max_bytes: int) -> None:
        self.n_lines = number
        if raw is None:
            self.n_examples += 1
            problem = messages.LINE_TOO_LONG.format(line=number, limit=max_bytes)
            self.flag(LINE_TOO_LONG, number, problem)
            return
        if not raw or raw.isspace():
            self.flag(BLANK_LINE, number)
            return
        self.n_examples += 1
        self.line_failed = False
        self.line_images = self.line_image_tokens = 0
        if self.fingerprints is not None and self.fingerprints.seen_before(hash(raw.rstrip())):
            self.flag(DUPLICATE_EXAMPLE, number)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            detail = f"invalid byte 0x{raw[exc.start]:02x} at position {exc.start}"
            problem = messages.INVALID_UTF8.format(line=number, detail=detail)
            self.flag(INVALID_UTF8, number, problem)
            return
        if number == 1 and text.startswith(BYTE_ORDER_MARK):
            text = text[len(BYTE_ORDER_MARK) :]
        try:
            example = _DECODER.decode(text)
        except ValueError as exc:
            self.flag(INVALID_JSON, number, messages.INVALID_JSON.format(line=number, detail=exc))
            return
        except RecursionError:
            problem = messages.INVALID_JSON.format(line=number, detail=messages.TOO_DEEP)
            self.flag(INVALID_JSON, number, problem)
            return
        if type(example) is not dict:
            hint = text.strip()[: messages.NOT_A_DICT_HINT_CHARS]
            self.flag(DATA_TYPE, number, messages.NOT_A_DICT.format(line=number, hint=hint))
            return
        if self.file_state != _MATCHED and not self.decide_format(example):
            return
        try:
            self.example(number, example)
            self.images_of_example(number)
            if not self.line_failed:
                self.count_tokens(number, example)
        except RecursionError:  # nesting deep enough to parse, not to walk again
            problem = messages.INVALID_JSON.format(line=number, detail=messages.TOO_DEEP)
            self.flag(INVALID_JSON, number, problem)

    def decide_format(self, example: dict[str, Any]) -> bool:
        """On the first example: whether the file is written in the format the job needs
        (if not, the file fails as a whole and no further line is walked)."""
        if self.file_state == _MISMATCHED:
            return False
        found = format_of(example)
        if found == self.written:
            self.file_state = _MATCHED
            return True
        self.file_state = _MISMATCHED
        if found is None:
            problem = messages.UNEXPECTED_FORMAT
        else:
            problem = messages.format_mismatch(
                source=self.source,
                found=found,
                expected=self.format,
                model=self.model,
                method=self.method,
            )
        self.flag(WRONG_FORMAT, None, problem)
        return False

    def count_tokens(self, line: int, example: dict[str, Any]) -> None:
        count = tokens.example_tokens(example, self.counter.count)
        # `tokens` counts every image as a low-detail one: each costs what its size and
        # detail make it cost, and a skipped image nothing
        count += self.line_image_tokens - self.line_images * tokens.IMAGE_PART_TOKENS
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
        if self.written == FORMAT_PROMPT_COMPLETION:
            self.prompt_completion(line, example)
        elif self.written == FORMAT_DPO:
            self.dpo(line, example)
        else:
            self.chat(line, example)

    def missing(self, line: int, example: dict[str, Any], key: str, code: str) -> None:
        """``example`` lacks ``key``: an example of another format, or an incomplete one."""
        other = format_of(example)
        check = WRONG_FORMAT if other is not None and other != self.written else code
        self.flag(check, line, messages.MISSING_KEY.format(line=line, key=key))

    def extra_keys(self, line: int, holder: dict[str, Any], allowed: frozenset[str]) -> None:
        if not allowed.issuperset(holder):
            key = _first_extra(holder, allowed)
            self.flag(EXTRA_KEYS, line, messages.EXTRA_KEY.format(line=line, key=key))

    def chat(self, line: int, example: dict[str, Any]) -> None:
        if MESSAGES_KEY not in example:
            self.missing(line, example, MESSAGES_KEY, MISSING_MESSAGES_LIST)
            return
        if self.format == FORMAT_CHAT:
            self.extra_keys(line, example, CHAT_EXAMPLE_KEYS)
        listed = example[MESSAGES_KEY]
        if type(listed) is not list or not listed:
            if type(listed) is list:
                problem = messages.MESSAGES_EMPTY.format(line=line)
            else:
                problem = messages.MESSAGES_TYPE.format(line=line, type=messages.type_name(listed))
            self.flag(MISSING_MESSAGES_LIST, line, problem)
            return
        tools, functions = self.definitions(line, example)
        has_assistant = self.message_list(line, listed, tools, functions, weights=True)
        if self.format == FORMAT_CHAT and not has_assistant:
            self.flag(MISSING_ASSISTANT, line, messages.NO_ASSISTANT.format(line=line))

    def prompt_completion(self, line: int, example: dict[str, Any]) -> None:
        for key in PROMPT_COMPLETION_KEYS:
            if key not in example:
                self.missing(line, example, key, MISSING_PROMPT_COMPLETION)
                continue
            value = example[key]
            if type(value) is not str:
                problem = messages.PROMPT_TYPE.format(
                    line=line, key=key, type=messages.type_name(value)
                )
                self.flag(MISSING_PROMPT_COMPLETION, line, problem)
                continue
            self.text(line, value, key)
        self.extra_keys(line, example, PROMPT_COMPLETION_EXAMPLE_KEYS)

    def dpo(self, line: int, example: dict[str, Any]) -> None:
        for key in DPO_KEYS:
            if key not in example:
                self.missing(line, example, key, DPO_MISSING_KEY)
                return
        self.extra_keys(line, example, DPO_EXAMPLE_KEYS)
        source = example["input"]
        tools, functions = self.definitions(line, example)
        listed = source.get(MESSAGES_KEY) if type(source) is dict else None
        if type(source) is not dict or type(listed) is not list or not listed:
            self.flag(DPO_INVALID_INPUT, line, messages.DPO_INPUT.format(line=line))
            listed = []
        else:
            self.extra_keys(line, source, DPO_INPUT_KEYS)
            input_tools, input_functions = self.definitions(line, source)
            tools, functions = tools | input_tools, functions | input_functions
            self.message_list(line, listed, tools, functions, weights=False)
        for key in DPO_OUTPUT_KEYS:
            output = example[key]
            if (
                type(output) is not list
                or len(output) != 1
                or type(output[0]) is not dict
                or output[0].get("role") != ASSISTANT
            ):
                self.flag(DPO_INVALID_OUTPUT, line, messages.DPO_OUTPUT.format(line=line, key=key))
            else:
                start = len(listed) + 1  # numbered after the input's messages
                self.message_list(line, output, tools, functions, weights=False, start=start)

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
            text = messages.INVALID_DEFINITIONS.format(line=line, key=key, problem=problem)
            self.flag(INVALID_TOOLS, line, text)
        return names

    def definitions(
        self, line: int, holder: dict[str, Any]
    ) -> tuple[frozenset[str], frozenset[str]]:
        """The function names declared in ``tools`` and in ``functions``."""
        tool_names = self._declared(line, holder, "tools", messages.TOOLS_PROBLEM, nested=True)
        function_names = self._declared(
            line, holder, "functions", messages.FUNCTIONS_PROBLEM, nested=False
        )
        parallel = holder.get("parallel_tool_calls")
        if parallel is not None and type(parallel) is not bool:
            problem = messages.PARALLEL_PROBLEM.format(type=messages.type_name(parallel))
            text = messages.INVALID_DEFINITIONS.format(
                line=line, key="parallel_tool_calls", problem=problem
            )
            self.flag(INVALID_TOOLS, line, text)
        return frozenset(tool_names), frozenset(function_names)

    def message_list(
        self,
        line: int,
        listed: list[Any],
        tools: frozenset[str],
        functions: frozenset[str],
        *,
        weights: bool,
        start: int = 1,
    ) -> bool:
        """Check each message; whether one of them is the assistant's."""
        has_assistant = False
        roles = self.roles
        for index, message in enumerate(listed, start=start):
            if type(message) is not dict:
                text = messages.MESSAGE_TYPE.format(
                    line=line, index=index, type=messages.type_name(message)
                )
                self.flag(MESSAGE_TYPE, line, text)
                continue
            role = message.get("role")
            if role is None:
                text = messages.MISSING_ROLE.format(line=line, index=index)
                self.flag(MESSAGE_MISSING_KEY, line, text)
            elif type(role) is not str or role not in roles:
                text = messages.UNRECOGNIZED_ROLE.format(
                    line=line,
                    index=index,
                    role=messages.quoted([role]),
                    allowed=", ".join(sorted(roles)),
                )
                self.flag(UNRECOGNIZED_ROLE, line, text)
            if not MESSAGE_KEYS.issuperset(message):
                key = _first_extra(message, MESSAGE_KEYS)
                text = messages.MESSAGE_EXTRA_KEY.format(line=line, index=index, key=key)
                self.flag(MESSAGE_UNRECOGNIZED_KEY, line, text)
            is_assistant = role == ASSISTANT
            if is_assistant:
                has_assistant = True
            for key in STRING_MESSAGE_KEYS:
                value = message.get(key)
                if value is not None and type(value) is not str:
                    text = messages.STRING_KEY.format(
                        line=line, index=index, key=key, type=messages.type_name(value)
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
                self.text(line, content, messages.TOKEN_IN_MESSAGE)
                return
        elif type(content) is list:
            if content:
                self.parts(line, index, content, role)
                return
        elif content is not None:
            text = messages.CONTENT_TYPE.format(
                line=line, index=index, type=messages.type_name(content)
            )
            self.flag(INVALID_CONTENT, line, text)
            return
        if not calls:
            alternative = messages.MISSING_CONTENT_ALT if role == ASSISTANT else ""
            shown = role if type(role) is str else "no role"
            text = messages.MISSING_CONTENT.format(
                line=line, index=index, role=shown, alt=alternative
            )
            self.flag(MISSING_CONTENT, line, text)

    def parts(self, line: int, index: int, parts: list[Any], role: object) -> None:
        for number, part in enumerate(parts, start=1):
            kind = part.get("type") if type(part) is dict else None
            if kind == TEXT_PART and type(part.get("text")) is str:
                self.text(line, part["text"], messages.TOKEN_IN_MESSAGE)
                continue
            image = part.get(IMAGE_PART) if kind == IMAGE_PART else None
            if type(image) is dict and type(image.get("url")) is str:
                self.image(line, index, number, image, role)
                continue
            text = messages.CONTENT_PART.format(line=line, index=index, part=number)
            self.flag(INVALID_CONTENT, line, text)

    def image(self, line: int, index: int, part: int, image: dict[str, Any], role: object) -> None:
        """An image part (vision fine-tuning): where it may be, and what it costs or why it
        is skipped."""
        self.line_images += 1
        where = {"line": line, "index": index, "part": part}
        detail = image.get("detail", images.DEFAULT_DETAIL)
        if role == ASSISTANT:
            self.flag(INVALID_IMAGE, line, messages.IMAGE_IN_ASSISTANT.format(**where))
        elif not self.spec.images:
            problem = messages.IMAGES_UNSUPPORTED.format(
                **where, model=self.model, models=messages.VISION_MODELS
            )
            self.flag(INVALID_IMAGE, line, problem)
        elif type(detail) is not str or detail not in images.DETAILS:
            value = json.dumps(detail, ensure_ascii=False)
            self.flag(INVALID_IMAGE, line, messages.IMAGE_DETAIL.format(**where, value=value))
        else:
            verdict = images.inspect(image["url"], detail)
            if verdict.skipped is not None:
                self.flag(SKIPPED_IMAGE, line)
                self.skip_reasons[verdict.skipped] = self.skip_reasons.get(verdict.skipped, 0) + 1
            self.line_image_tokens += verdict.tokens

    def images_of_example(self, line: int) -> None:
        if not self.line_images:
            return
        self.image_examples += 1
        if self.line_images > images.MAX_IMAGES_PER_EXAMPLE:
            problem = messages.TOO_MANY_IMAGES.format(
                line=line, count=self.line_images, limit=images.MAX_IMAGES_PER_EXAMPLE
            )
            self.flag(INVALID_IMAGE, line, problem)

    def text(self, line: int, text: str, where: str) -> None:
        token = _special_token(text)
        if token is not None:
            problem = messages.INVALID_TOKEN.format(line=line, where=where, token=token)
            self.flag(INVALID_TOKEN, line, problem)

    def weight(self, line: int, index: int, weight: object, role: object, allowed: bool) -> None:
        if not allowed:
            text = messages.WEIGHT_FORMAT.format(line=line, index=index)
        elif role != ASSISTANT:
            shown = role if type(role) is str else "role-less"
            text = messages.WEIGHT_ROLE.format(line=line, index=index, role=shown)
        elif type(weight) not in (int, float) or weight not in ALLOWED_WEIGHTS:
            shown = json.dumps(weight, ensure_ascii=False)
            text = messages.WEIGHT_VALUE.format(line=line, index=index, value=shown)
        else:
            return
        self.flag(INVALID_WEIGHT, line, text)

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
            ("tool_calls", tools, messages.TOOL_CALLS_PROBLEM),
            ("function_call", functions, messages.FUNCTION_CALL_PROBLEM),
        ):
            value = message.get(key)
            if value is None:
                continue
            has_calls = True
            if not is_assistant:
                text = messages.INVALID_TOOL_CALL.format(
                    line=line, index=index, key=key, problem=messages.CALLS_ROLE_PROBLEM
                )
                self.flag(INVALID_TOOL_CALL, line, text)
                continue
            calls = value if key == "tool_calls" else [{"function": value}]
            names, wrong = _called_names(calls, nested=key == "tool_calls")
            if wrong is not None:
                text = messages.INVALID_TOOL_CALL.format(
                    line=line, index=index, key=key, problem=wrong or problem
                )
                self.flag(INVALID_TOOL_CALL, line, text)
                continue
            for name in names:
                if name not in declared:
                    declared_in = "tools" if key == "tool_calls" else "functions"
                    text = messages.UNDECLARED_TOOL.format(
                        line=line, index=index, name=name, key=declared_in
                    )
                    self.flag(UNDECLARED_TOOL, line, text)
        return has_calls

    # -- the end

    def report(self) -> ValidationReport:
        minimum = MIN_EXAMPLES if self.purpose == TRAINING_FILE else 0
        label = f"{messages.SOURCE_LABELS[self.purpose]} {self.source}".rstrip()
        if self.n_examples < minimum:
            self.tallies[TOO_FEW_EXAMPLES].count = 1
            if self.first_error is None:
                self.first_error = ValidationProblem(
                    code=messages.TOO_FEW_CODE,
                    message=messages.TOO_FEW.format(
                        source=messages.SOURCE_LABELS[self.purpose],
                        count=self.n_examples,
                        minimum=minimum,
                    ),
                    param=self.purpose,
                    check=TOO_FEW_EXAMPLES,
                    line=None,
                )
        if self.image_examples > images.MAX_IMAGE_EXAMPLES:
            problem = messages.TOO_MANY_IMAGE_EXAMPLES.format(
                count=self.image_examples, limit=images.MAX_IMAGE_EXAMPLES
            )
            self.flag(INVALID_IMAGE, None, problem)
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.skip_reasons.items()))
        warnings = []
        for code, template in (
            (BLANK_LINE, messages.BLANK_LINES),
            (DUPLICATE_EXAMPLE, messages.DUPLICATES),
            (OVER_TOKEN_LIMIT, messages.OVER_LIMIT),
            (SKIPPED_IMAGE, messages.SKIPPED_IMAGES),
        ):
            tally = self.tallies[code]
            if tally.count:
                warnings.append(
                    template.format(
                        source=label,
                        count=tally.count,
                        lines=messages.line_list(tally.lines, tally.count),
                        limit=self.limit,
                        model=self.model,
                        reasons=reasons,
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
            return [], messages.ARGUMENTS_PROBLEM.format(
                name=name, type=messages.type_name(arguments)
            )
        names.append(name)
    return names, None
