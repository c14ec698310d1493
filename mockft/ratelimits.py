"""The rate limits a model call announces: the `x-ratelimit-*` headers.

Every answer of the real `/v1/chat/completions` and `/v1/completions` carries six headers
(captures of 2023-11 to 2025-05; the files, fine-tuning and models endpoints send none): the
organization's requests and tokens per minute for the model, what is left of them, and how
long until they are whole again, as a Go duration (`17ms`, `16.227s`, `6m0s`). Clients read
them to pace themselves (openai-php's `meta()`, go-openai's `GetRateLimitHeaders`, LiteLLM's
proxy passes them on).

mockft never limits a call on its own (chaos rules do that), so the figures are constants:
per model family, those of a high usage tier, large enough that no request mockft accepts
would exceed them, except where a capture shows the model's own figures. Each answer is the
first call of its minute: one request used, and the call's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mockft.synth import FINE_TUNED_PREFIX

WINDOW_MS: Final = 60_000  # the limits are per minute


@dataclass(frozen=True)
class Limits:
    requests: int  # per minute
    tokens: int  # per minute


# By prefix of the snapshot that answers (the longest prefix wins). A fine-tuned model has
# its base model's limits. A capture of 2025-05 shows 30000 requests and 150000000 tokens.
LIMITS: Final[dict[str, Limits]] = {
    "gpt-4.1": Limits(10_000, 30_000_000),
    "gpt-4.1-mini": Limits(30_000, 150_000_000),
    "gpt-4.1-nano": Limits(30_000, 150_000_000),
    "o4-mini": Limits(30_000, 150_000_000),
    "gpt-4o": Limits(10_000, 30_000_000),
    "gpt-4o-mini": Limits(30_000, 150_000_000),
    "gpt-4-turbo": Limits(10_000, 2_000_000),
    "gpt-4": Limits(10_000, 1_000_000),
    "gpt-3.5-turbo": Limits(10_000, 50_000_000),
    "gpt-3.5-turbo-instruct": Limits(3_500, 90_000),  # ruby-openai cassette, 2024-03-31
    "babbage-002": Limits(3_000, 250_000),
    "davinci-002": Limits(3_000, 250_000),
}
DEFAULT_LIMITS: Final = Limits(10_000, 30_000_000)


def limits_for(snapshot: str) -> Limits:
    """The limits of the model family `snapshot` belongs to."""
    family = family_of(snapshot)
    return DEFAULT_LIMITS if family is None else LIMITS[family]


def family_of(model: str) -> str | None:
    """The family whose limits a model has, as a 429 names it (`gpt-4o-mini` for
    `gpt-4o-mini-2024-07-18`): a base model by the longest prefix of LIMITS it starts with,
    a fine-tuned model (`ft:{base}:…`) by its base's; None for a model of no known family."""
    if model.startswith(FINE_TUNED_PREFIX):
        model = model[len(FINE_TUNED_PREFIX) :].split(":", 1)[0]
    found = [prefix for prefix in LIMITS if model.startswith(prefix)]
    return max(found, key=len) if found else None


def headers(limits: Limits, tokens: int) -> dict[str, str]:
    """The six headers of a call that used one request and `tokens` tokens."""
    used_tokens = min(max(tokens, 0), limits.tokens)
    return {
        "x-ratelimit-limit-requests": str(limits.requests),
        "x-ratelimit-limit-tokens": str(limits.tokens),
        "x-ratelimit-remaining-requests": str(limits.requests - 1),
        "x-ratelimit-remaining-tokens": str(limits.tokens - used_tokens),
        "x-ratelimit-reset-requests": duration(WINDOW_MS // limits.requests),
        "x-ratelimit-reset-tokens": duration(used_tokens * WINDOW_MS // limits.tokens),
    }


def duration(milliseconds: int) -> str:
    """A duration as Go prints one (`time.Duration.String`), to the millisecond: `0s`,
    `17ms`, `16.227s`, `6m0s`, `1h0m0s`."""
    if milliseconds <= 0:
        return "0s"
    if milliseconds < 1000:
        return f"{milliseconds}ms"
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, fraction = divmod(rest, 1000)
    seconds = f"{whole}.{fraction:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{minutes}m{seconds}"
    return seconds
