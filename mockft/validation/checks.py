"""The checks a training file goes through, in report order: their codes (mockft's report
vocabulary, not the API's), severities and the formats they apply to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mockft.validation.formats import (
    ALL_FORMATS,
    FORMAT_CHAT,
    FORMAT_DPO,
    FORMAT_PROMPT_COMPLETION,
    FORMAT_REINFORCEMENT,
)
from mockft.validation.reader import MAX_LINE_BYTES

ERROR: Final = "error"
WARNING: Final = "warning"

MIN_EXAMPLES: Final = 10  # in a training file; a validation file needs none


@dataclass(frozen=True)
class Check:
    code: str
    severity: str  # ERROR or WARNING
    title: str
    formats: frozenset[str]


MESSAGE_FORMATS: Final = frozenset({FORMAT_CHAT, FORMAT_DPO, FORMAT_REINFORCEMENT})
CHAT_FORMATS: Final = frozenset({FORMAT_CHAT, FORMAT_REINFORCEMENT})
ONLY_CHAT: Final = frozenset({FORMAT_CHAT})
ONLY_DPO: Final = frozenset({FORMAT_DPO})
ONLY_PROMPT_COMPLETION: Final = frozenset({FORMAT_PROMPT_COMPLETION})
FIXED_KEY_FORMATS: Final = frozenset({FORMAT_CHAT, FORMAT_PROMPT_COMPLETION, FORMAT_DPO})

INVALID_UTF8: Final = "invalid_utf8"
LINE_TOO_LONG: Final = "line_too_long"
INVALID_JSON: Final = "invalid_json"
DATA_TYPE: Final = "data_type"
WRONG_FORMAT: Final = "wrong_format"
MISSING_MESSAGES_LIST: Final = "missing_messages_list"
EXTRA_KEYS: Final = "extra_example_keys"
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
INVALID_IMAGE: Final = "invalid_image"
SKIPPED_IMAGE: Final = "skipped_image"

CHECKS: Final = (
    Check(INVALID_UTF8, ERROR, "lines are UTF-8", ALL_FORMATS),
    Check(LINE_TOO_LONG, ERROR, f"lines are at most {MAX_LINE_BYTES:,} bytes", ALL_FORMATS),
    Check(INVALID_JSON, ERROR, "lines parse as JSON", ALL_FORMATS),
    Check(DATA_TYPE, ERROR, "lines are JSON objects", ALL_FORMATS),
    Check(WRONG_FORMAT, ERROR, "examples match the model and method", ALL_FORMATS),
    Check(MISSING_MESSAGES_LIST, ERROR, '"messages" is a non-empty list', CHAT_FORMATS),
    Check(EXTRA_KEYS, ERROR, "examples have no keys the format lacks", FIXED_KEY_FORMATS),
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
    Check(
        INVALID_IMAGE,
        ERROR,
        "images: on a vision model, never in assistant messages, at most 10 per example",
        MESSAGE_FORMATS,
    ),
    Check(TOO_FEW_EXAMPLES, ERROR, f"at least {MIN_EXAMPLES} examples", ALL_FORMATS),
    Check(BLANK_LINE, WARNING, "blank lines (skipped)", ALL_FORMATS),
    Check(DUPLICATE_EXAMPLE, WARNING, "duplicate examples", ALL_FORMATS),
    Check(OVER_TOKEN_LIMIT, WARNING, "examples over the token limit (truncated)", ALL_FORMATS),
    Check(
        SKIPPED_IMAGE,
        WARNING,
        "images skipped (inaccessible, too large, not JPEG/PNG/WEBP in RGB/RGBA)",
        MESSAGE_FORMATS,
    ),
)
