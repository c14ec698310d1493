"""What running a grader gives: a reward, simulated time and token usage, error flags.

``execution_time`` is simulated and deterministic (no grader really runs), and so are the
stand-in rewards of the graders that cannot run offline (`unit`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

STAND_IN_DECIMALS: Final = 4
LOCAL_GRADER_SECONDS: Final = 0.002

# RunGraderResponse.metadata.errors in the spec's order: flags (booleans) and the detail
# fields (strings or null; always null here, since nothing runs remotely).
INVALID_VARIABLE_ERROR: Final = "invalid_variable_error"
SAMPLE_PARSE_ERROR: Final = "sample_parse_error"
OTHER_ERROR: Final = "other_error"
ERROR_FIELDS: Final = (
    "formula_parse_error", SAMPLE_PARSE_ERROR, "truncated_observation_error",
    "unresponsive_reward_error", INVALID_VARIABLE_ERROR, OTHER_ERROR,
    "python_grader_server_error", "python_grader_server_error_type",
    "python_grader_runtime_error", "python_grader_runtime_error_details",
    "model_grader_server_error", "model_grader_refusal_error", "model_grader_parse_error",
    "model_grader_server_error_details",
)  # fmt: skip
ERROR_DETAILS: Final = frozenset(
    {
        "python_grader_server_error_type",
        "python_grader_runtime_error_details",
        "model_grader_server_error_details",
    }
)


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


def local(reward: float) -> Outcome:
    """The outcome of a grader that runs here, in no time worth simulating."""
    return Outcome(reward, LOCAL_GRADER_SECONDS)


def failed(flag: str) -> Outcome:
    """Reward 0 with one of the ``metadata.errors`` flags."""
    return Outcome(0.0, LOCAL_GRADER_SECONDS, frozenset({flag}))


def unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from anything JSON can hold."""
    material = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(material.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
