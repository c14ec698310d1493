"""Every wording validation uses: the job errors as the real service writes them, and
mockft's own wording where no capture of the real one exists.

A job that fails validation carries ``{"code", "message", "param"}``. Captured (see
docs/fidelity.md, "Training data validation", for each source and date):

- the frame: code ``invalid_file_format``, message ``The job failed due to a file format
  error in the training file.`` followed by the problem (johny-b/llmcomp#59, 2026-02-12; a
  public fine-tuning log, 2025-10-31). Older captures (2024) show the frame ``The job failed
  due to an invalid training file.`` with code ``invalid_training_file``: the newest capture
  wins, and the details after the frame are the same in both eras.
- the problem of a malformed file starts ``Invalid file format.`` and locates it as
  ``Example N`` or ``Example N, message M``. Captured details: "Example 100, message 2
  Discriminator 'role' is missing in value"; "Example 1273 cannot be parsed. Error: line
  contains invalid json: ... (line 1273)"; "Example 6174 message contains an invalid token:
  <|fim_suffix|>."; 'Example 1 contains an extra "weight".'; "Example X is missing key
  'messages'"; "Unexpected file format, expected either prompt/completion pairs or chat
  messages."; "Input file F is in the fine-tune-chat format, but the specified fine-tuning
  job is not using 'supervised' as the training method (provided method=dpo). " (with its
  trailing space).
- too few examples: code ``invalid_n_examples``, message "Training file has 7 example(s),
  but must have at least 10 examples", no frame.

``JOB_ERROR_PREFIXES`` and ``ERROR_CODES`` are the one place the frame lives. Every other
detail below is mockft's plain wording in the same frame.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Final

from mockft.validation.formats import (
    ASSISTANT,
    FORMAT_CHAT,
    FORMAT_DPO,
    FORMAT_PROMPT_COMPLETION,
    FORMAT_REINFORCEMENT,
    METHOD_DPO,
    METHOD_SUPERVISED,
    TRAINING_FILE,
    VALIDATION_FILE,
)

# -- the job error ------------------------------------------------------------------------

JOB_ERROR_PREFIXES: Final[Mapping[str, str]] = {
    TRAINING_FILE: "The job failed due to a file format error in the training file.",
    # No capture of a validation file's frame: the training file's, for the other file.
    VALIDATION_FILE: "The job failed due to a file format error in the validation file.",
}
ERROR_CODES: Final[Mapping[str, str]] = {
    TRAINING_FILE: "invalid_file_format",
    VALIDATION_FILE: "invalid_file_format",
}
TOO_FEW_CODE: Final = "invalid_n_examples"
SOURCE_LABELS: Final[Mapping[str, str]] = {
    TRAINING_FILE: "Training file",
    VALIDATION_FILE: "Validation file",
}


def job_message(purpose: str, problem: str) -> str:
    """The job's error message for a ``problem`` found in the file given as ``purpose``."""
    return f"{JOB_ERROR_PREFIXES[purpose]} {problem}"


# -- file-level problems ------------------------------------------------------------------

INVALID: Final = "Invalid file format."
TOO_FEW: Final = "{source} has {count} example(s), but must have at least {minimum} examples"
UNEXPECTED_FORMAT: Final = (
    "Unexpected file format, expected either prompt/completion pairs or chat messages."
)
# A chat file for a DPO job is captured; a preference file for a supervised job follows it.
METHOD_FORMAT: Final = (
    INVALID + " Input file {source} is in the {found} format, but the specified fine-tuning "
    "job is not using '{needed}' as the training method (provided method={method}). "
)
METHOD_FORMAT_NAMES: Final[Mapping[str, tuple[str, str]]] = {
    # file format -> (its name, the method it needs)
    FORMAT_CHAT: ("fine-tune-chat", METHOD_SUPERVISED),
    FORMAT_DPO: ("fine-tune-preference", METHOD_DPO),
}
MODEL_FORMAT: Final = (
    INVALID + " Input file {source} holds {found}, but fine-tuning {model} with the {method} "
    "method needs {expected}."
)
FORMAT_PLURALS: Final[Mapping[str, str]] = {
    FORMAT_CHAT: 'chat examples ("messages")',
    FORMAT_PROMPT_COMPLETION: 'prompt/completion examples ("prompt", "completion")',
    FORMAT_DPO: 'preference (DPO) examples ("input", "preferred_output", "non_preferred_output")',
    FORMAT_REINFORCEMENT: 'reinforcement examples ("messages" plus grader fields)',
}
METHOD_UNSUPPORTED: Final = (
    "Model {model} is not available for {method} fine-tuning; it supports: {supported}."
)

# -- one line -----------------------------------------------------------------------------

EXAMPLE: Final = INVALID + " Example {line}"
INVALID_UTF8: Final = EXAMPLE + " is not valid UTF-8: {detail}."
LINE_TOO_LONG: Final = EXAMPLE + " is longer than {limit:,} bytes."
INVALID_JSON: Final = (
    EXAMPLE + " cannot be parsed. Error: line contains invalid json: {detail} (line {line})"
)
TOO_DEEP: Final = "values are nested too deeply"
# The Files API's wording for a line that is not an object (service/files.py says the same).
NOT_A_DICT: Final = (
    "Expected file to have JSONL format, where every line is a JSON dictionary. "
    'Line {line} is not a dictionary (HINT: line starts with: "{hint}...").'
)
NOT_A_DICT_HINT_CHARS: Final = 3
MISSING_KEY: Final = EXAMPLE + " is missing key '{key}'."
EXTRA_KEY: Final = EXAMPLE + ' contains an extra "{key}".'
MESSAGES_TYPE: Final = EXAMPLE + ' "messages" must be a list of messages, got {type}.'
MESSAGES_EMPTY: Final = EXAMPLE + ' has an empty list of "messages".'
NO_ASSISTANT: Final = (
    EXAMPLE + ' has no assistant message; at least one message must have role "assistant".'
)
INVALID_DEFINITIONS: Final = EXAMPLE + ' "{key}": {problem}.'
TOOLS_PROBLEM: Final = (
    'expected a list of {"type": "function", "function": {"name": ...}} definitions'
)
FUNCTIONS_PROBLEM: Final = 'expected a list of {"name": ...} function definitions'
PARALLEL_PROBLEM: Final = "expected true or false, got {type}"
INVALID_TOKEN: Final = EXAMPLE + " {where} contains an invalid token: {token}."
TOKEN_IN_MESSAGE: Final = "message"
PROMPT_TYPE: Final = EXAMPLE + ' "{key}" must be a string, got {type}.'
DPO_INPUT: Final = EXAMPLE + ' "input" must be an object with a list of "messages".'
DPO_OUTPUT: Final = EXAMPLE + ' "{key}" must be a list holding exactly one assistant message.'

# -- one message of a line ----------------------------------------------------------------

MESSAGE: Final = EXAMPLE + ", message {index}"
MESSAGE_TYPE: Final = MESSAGE + " must be an object, got {type}."
MISSING_ROLE: Final = MESSAGE + " Discriminator 'role' is missing in value"
MESSAGE_EXTRA_KEY: Final = MESSAGE + ' contains an extra "{key}".'
UNRECOGNIZED_ROLE: Final = MESSAGE + " has an unrecognized role {role}; expected one of {allowed}."
MISSING_CONTENT: Final = MESSAGE + ' ({role}) is missing "content"{alt}.'
MISSING_CONTENT_ALT: Final = ' (or "tool_calls" / "function_call")'
CONTENT_TYPE: Final = (
    MESSAGE + ' "content" must be a string or a list of content parts, got {type}.'
)
STRING_KEY: Final = MESSAGE + ' "{key}" must be a string, got {type}.'
CONTENT_PART: Final = (
    MESSAGE + ", content part {part} must be "
    '{{"type": "text", "text": ...}} or {{"type": "image_url", "image_url": {{"url": ...}}}}.'
)
WEIGHT_VALUE: Final = MESSAGE + ' "weight" must be 0 or 1, got {value}.'
WEIGHT_ROLE: Final = (
    MESSAGE + ' has a "weight", which only assistant messages may have (it is a {role} message).'
)
WEIGHT_FORMAT: Final = MESSAGE + ' has a "weight", which only supervised chat examples use.'
INVALID_TOOL_CALL: Final = MESSAGE + ' "{key}": {problem}.'
TOOL_CALLS_PROBLEM: Final = (
    'expected a non-empty list of {"id": ..., "type": "function", "function": {"name": ..., '
    '"arguments": ...}} calls'
)
FUNCTION_CALL_PROBLEM: Final = 'expected {"name": ..., "arguments": ...}'
ARGUMENTS_PROBLEM: Final = (
    'the "arguments" of a call to "{name}" must be a string (of JSON), got {type}'
)
CALLS_ROLE_PROBLEM: Final = "only " + ASSISTANT + " messages can call tools"
UNDECLARED_TOOL: Final = MESSAGE + ' calls function "{name}", which is not declared in "{key}".'

# -- images (vision fine-tuning): the guide's rules, mockft's wording --------------------

IMAGE_PART: Final = MESSAGE + ", content part {part}"
IMAGE_IN_ASSISTANT: Final = (
    IMAGE_PART + ": an image cannot be in an assistant message (images are inputs only)."
)
IMAGES_UNSUPPORTED: Final = (
    IMAGE_PART + ": {model} cannot be fine-tuned on images; vision fine-tuning supports {models}."
)
IMAGE_DETAIL: Final = IMAGE_PART + ': "detail" must be one of "low", "high" or "auto", got {value}.'
TOO_MANY_IMAGES: Final = EXAMPLE + " has {count} images, but an example can have at most {limit}."
TOO_MANY_IMAGE_EXAMPLES: Final = (
    INVALID + " {count:,} examples contain images, but a file can have at most {limit:,}."
)
VISION_MODELS: Final = "gpt-4o-2024-08-06"

# -- warnings (mockft's: the real service does not publish its own) -----------------------

BLANK_LINES: Final = "{source}: skipped {count} blank line(s) ({lines})."
DUPLICATES: Final = "{source}: {count} example(s) repeat an earlier line exactly ({lines})."
SKIPPED_IMAGES: Final = (
    "{source}: images of {count} example(s) were skipped and not used for training "
    "({reasons}; {lines})."
)
OVER_LIMIT: Final = (
    "{source}: {count} example(s) are longer than the {limit:,}-token limit of {model} and "
    "will be truncated to {limit:,} tokens ({lines})."
)

# -- shared pieces ------------------------------------------------------------------------

JSON_TYPE_NAMES: Final[Mapping[type, str]] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def type_name(value: object) -> str:
    """How a JSON value's type reads in a message: "an object", "a number", ..."""
    return JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def quoted(values: Iterable[object]) -> str:
    return ", ".join(json.dumps(value, ensure_ascii=False) for value in values)


def line_list(lines: list[int], count: int) -> str:
    """ "line 4", "lines 2, 5 and 3 more"."""
    shown = ", ".join(str(line) for line in lines)
    more = count - len(lines)
    word = "line" if count == 1 else "lines"
    return f"{word} {shown}" + (f" and {more} more" if more > 0 else "")


def format_mismatch(*, source: str, found: str, expected: str, model: str, method: str) -> str:
    """A file written in ``found`` format for a job that needs ``expected``."""
    by_method = METHOD_FORMAT_NAMES.get(found)
    if by_method is not None and {found, expected} == {FORMAT_CHAT, FORMAT_DPO}:
        name, needed = by_method
        return METHOD_FORMAT.format(source=source, found=name, needed=needed, method=method)
    return MODEL_FORMAT.format(
        source=source,
        found=FORMAT_PLURALS[found],
        model=model,
        method=method,
        expected=FORMAT_PLURALS[expected],
    )
