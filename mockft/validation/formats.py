"""What a training example looks like: methods, formats, the keys and roles each one uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mockft.catalog import FineTuningSpec

METHOD_SUPERVISED: Final = "supervised"
METHOD_DPO: Final = "dpo"
METHOD_REINFORCEMENT: Final = "reinforcement"
METHODS: Final = (METHOD_SUPERVISED, METHOD_DPO, METHOD_REINFORCEMENT)

FORMAT_CHAT: Final = "chat"
FORMAT_PROMPT_COMPLETION: Final = "prompt_completion"
FORMAT_DPO: Final = "dpo"
FORMAT_REINFORCEMENT: Final = "reinforcement"
ALL_FORMATS: Final = frozenset(
    {FORMAT_CHAT, FORMAT_PROMPT_COMPLETION, FORMAT_DPO, FORMAT_REINFORCEMENT}
)

# The job parameter a file was given as.
TRAINING_FILE: Final = "training_file"
VALIDATION_FILE: Final = "validation_file"
PURPOSES: Final = (TRAINING_FILE, VALIDATION_FILE)

CHAT_ROLES: Final = frozenset({"system", "user", "assistant", "tool", "function"})
# Reasoning models take "developer" instructions; reinforcement fine-tunes them.
REINFORCEMENT_ROLES: Final = CHAT_ROLES | {"developer"}
ASSISTANT: Final = "assistant"
MESSAGE_KEYS: Final = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "function_call", "tool_call_id"}
)
STRING_MESSAGE_KEYS: Final = ("name", "tool_call_id")
ALLOWED_WEIGHTS: Final = (0, 1)
MESSAGES_KEY: Final = "messages"
CHAT_EXAMPLE_KEYS: Final = frozenset({MESSAGES_KEY, "tools", "functions", "parallel_tool_calls"})
PROMPT_COMPLETION_KEYS: Final = ("prompt", "completion")
PROMPT_COMPLETION_EXAMPLE_KEYS: Final = frozenset(PROMPT_COMPLETION_KEYS)
DPO_KEYS: Final = ("input", "preferred_output", "non_preferred_output")
DPO_OUTPUT_KEYS: Final = DPO_KEYS[1:]
DPO_EXAMPLE_KEYS: Final = frozenset({*DPO_KEYS, "tools", "functions", "parallel_tool_calls"})
DPO_INPUT_KEYS: Final = CHAT_EXAMPLE_KEYS
TEXT_PART: Final = "text"
IMAGE_PART: Final = "image_url"
FUNCTION_TYPE: Final = "function"

# The keys whose absence the service names first, per format ("is missing key 'messages'").
REQUIRED_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    FORMAT_CHAT: (MESSAGES_KEY,),
    FORMAT_REINFORCEMENT: (MESSAGES_KEY,),
    FORMAT_PROMPT_COMPLETION: PROMPT_COMPLETION_KEYS,
    FORMAT_DPO: DPO_KEYS,
}


def expected_format(spec: FineTuningSpec, method: str) -> str:
    """The format a job on a model with ``spec`` needs for ``method``."""
    if method == METHOD_DPO:
        return FORMAT_DPO
    if method == METHOD_REINFORCEMENT:
        return FORMAT_REINFORCEMENT
    return spec.format


def format_of(example: Mapping[str, Any]) -> str | None:
    """The format an example is written in, by its keys (None: no format's keys)."""
    if MESSAGES_KEY in example:
        return FORMAT_CHAT
    for key in DPO_KEYS:
        if key in example:
            return FORMAT_DPO
    for key in PROMPT_COMPLETION_KEYS:
        if key in example:
            return FORMAT_PROMPT_COMPLETION
    return None


def written_as(expected: str) -> str:
    """The format a file must be written in for ``expected``: reinforcement examples are
    chat examples plus grader fields."""
    return FORMAT_CHAT if expected == FORMAT_REINFORCEMENT else expected
