"""Fault-injection rules: which requests a rule hits, when it fires, and the error it
answers with. The ASGI side (answering, dropping, holding a request) is `mockft.chaos`.

A rule says which requests it hits (a glob or regular expression on the path, optionally a
method; never the control API under /mockft/), when (the next N matching requests, each
with a seeded probability, or both), and what happens instead of the normal answer. A rule
added with an ordinary key hits only its own organization's requests. Rules are kept in
memory, not in the store: they describe the transport, not the data.

Matching is linear in the length of the path whatever the pattern: patterns are compiled
with RE2 (no backtracking), so no rule can make a request, or the requests behind it, wait.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any, Literal

import re2  # type: ignore[import-untyped]
from pydantic import Field

from mockft import errors, ratelimits
from mockft.schemas import Request, parse

CONTROL_PREFIX = "/mockft/"
# Not OpenAI's surface: the control API and the dashboard are neither logged nor hit by a
# rule (a rule on "*" must not keep the operator from removing it).
OUTSIDE_API = (CONTROL_PREFIX, "/dashboard")
DEFAULT_PATH = "/v1/*"
RULE_PREFIX = "chaos_"
RULE_OBJECT = "mockft.chaos_rule"
# Longer than the openai SDK's default 600 s timeout, so a held request outlives the client.
DEFAULT_HOLD_SECONDS = 900.0
MAX_HOLD_SECONDS = 86_400.0
MAX_LATENCY_MS = 600_000
MAX_RULES = 1_000
MAX_PATTERN_LENGTH = 1_000
MAX_MESSAGE_LENGTH = 4_096
MAX_METHOD_LENGTH = 16
MAX_TIMES = 1_000_000_000
MAX_SEED = 2**63 - 1
MAX_RETRY_AFTER_SECONDS = 86_400.0
MAX_RETRY_AFTER_MS = 86_400_000
# RE2's memory budget for one compiled pattern; a pattern that needs more is refused.
PATTERN_MEMORY_BYTES = 1 << 20

RATE_LIMIT_STATUS = 429
# The figures a 429 away from a model call quotes (requests per minute); on a model call it
# quotes the model's own limits, those its answers announce (`mockft.ratelimits`).
RATE_LIMIT_RPM = 60
RATE_LIMIT_DOCS = "https://platform.openai.com/account/rate-limits"
RATE_LIMIT_MESSAGE = (
    "Rate limit reached for organization {org} on requests per min (RPM): Limit {limit}, "
    "Used {limit}, Requested 1. Please try again in {wait}. Visit {docs} to learn more."
)
# A model call's 429 names the model's family (captures of 2024-01 to 2025-07).
MODEL_RATE_LIMIT_MESSAGE = (
    "Rate limit reached for {model} in organization {org} on requests per min (RPM): "
    "Limit {limit}, Used {limit}, Requested 1. Please try again in {wait}. Visit {docs} to "
    "learn more."
)
# The paths that call a model: the request body's `model` picks the limits a 429 quotes.
MODEL_CALL_PATHS = frozenset({"/v1/chat/completions", "/v1/completions"})
DEFAULT_RATE_LIMIT_WAIT_MS = 1_000


@dataclass(frozen=True)
class ErrorShape:
    message: str
    type: str
    code: str | None = None


# The bodies the real API (and its edge) send with these statuses.
ERROR_SHAPES: dict[int, ErrorShape] = {
    RATE_LIMIT_STATUS: ErrorShape(RATE_LIMIT_MESSAGE, "requests", "rate_limit_exceeded"),
    500: ErrorShape(errors.SERVER_ERROR_MESSAGE, errors.SERVER_ERROR),
    502: ErrorShape("Bad gateway.", "cf_bad_gateway"),
    503: ErrorShape("The server is overloaded or not ready yet.", errors.SERVER_ERROR),
    504: ErrorShape("Gateway timeout.", "cf_gateway_timeout"),
}
ChaosStatus = Literal[429, 500, 502, 503, 504]


class ChaosSpec(Request):
    """A rule as the control API and the pytest handle accept it."""

    path: str | None = Field(default=None, max_length=MAX_PATTERN_LENGTH)
    """Glob on the request path (`*` crosses `/`, `?` one character, `[...]` a class);
    default `/v1/*`."""
    path_regex: str | None = Field(default=None, max_length=MAX_PATTERN_LENGTH)
    """Regular expression (RE2 syntax) searched in the request path (instead of `path`)."""
    method: str | None = Field(default=None, max_length=MAX_METHOD_LENGTH)
    after: int = Field(default=0, ge=0, le=MAX_TIMES)
    """Let the first N matching requests through untouched (e.g. the second upload fails)."""
    times: int | None = Field(default=None, ge=1, le=MAX_TIMES)
    """Only the next N matching requests (that the probability lets through)."""
    probability: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    """Seed of this rule's `random.Random` (default: the server's seed)."""

    status: ChaosStatus | None = None
    message: str | None = Field(default=None, max_length=MAX_MESSAGE_LENGTH)
    retry_after: float | None = Field(default=None, ge=0, le=MAX_RETRY_AFTER_SECONDS)
    retry_after_ms: int | None = Field(default=None, ge=0, le=MAX_RETRY_AFTER_MS)
    should_retry: bool | None = None
    latency_ms: int = Field(default=0, ge=0, le=MAX_LATENCY_MS)
    drop: bool = False
    timeout: bool = False
    hold_seconds: float = Field(default=DEFAULT_HOLD_SECONDS, gt=0, le=MAX_HOLD_SECONDS)

    @property
    def fault(self) -> str:
        if self.status is not None:
            return "error"
        if self.drop:
            return "drop"
        if self.timeout:
            return "timeout"
        return "latency"


class PatternError(ValueError):
    """A pattern RE2 refuses; the message is RE2's reason."""


def compile_pattern(pattern: str, *, dot_matches_newline: bool = False) -> Any:
    """`pattern` compiled by RE2 (its `search` is linear in the text's length), or
    `PatternError`. Shared by chaos rules and scenario rules."""
    options = re2.Options()
    options.log_errors = False
    options.dot_nl = dot_matches_newline
    options.never_capture = True
    options.max_mem = PATTERN_MEMORY_BYTES
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None


class PathPattern:
    """A compiled RE2 pattern: `search` is linear in the length of the path."""

    def __init__(self, pattern: str, param: str, *, dot_matches_newline: bool = False) -> None:
        try:
            self._compiled = compile_pattern(pattern, dot_matches_newline=dot_matches_newline)
        except PatternError as exc:
            raise errors.invalid(
                f"Invalid '{param}': {errors.excerpt(str(exc))}.", param, "invalid_value"
            ) from None

    def search(self, path: str) -> bool:
        return self._compiled.search(path) is not None


def glob_to_re2(glob: str) -> str:
    """An anchored RE2 pattern for a shell glob: `*` any run (across `/` too), `?` one
    character, `[abc]` / `[!abc]` a class; everything else literal."""
    out = ["^"]
    index, size = 0, len(glob)
    while index < size:
        char = glob[index]
        index += 1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = index
            if end < size and glob[end] in "!^":
                end += 1
            if end < size and glob[end] == "]":
                end += 1
            while end < size and glob[end] != "]":
                end += 1
            if end >= size:  # no closing bracket: a literal "["
                out.append(r"\[")
                continue
            body = glob[index:end]
            index = end + 1
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            members = "".join(_class_member(c) for c in body)
            out.append(f"[{'^' if negate else ''}{members}]")
        else:
            out.append(_literal(char))
    out.append("$")
    return "".join(out)


def _literal(char: str) -> str:
    return "\\" + char if char in r".^$*+?()[]{}|\/-" else char


def _class_member(char: str) -> str:
    return "\\" + char if char in r"\]^[" else char


def _check(spec: ChaosSpec) -> PathPattern:
    """The rules a field-by-field parse cannot express; the compiled path pattern."""
    chosen = [name for name in ("status", "drop", "timeout") if getattr(spec, name)]
    if len(chosen) > 1:
        raise errors.invalid(
            f"A chaos rule has one fault; got {' and '.join(chosen)}.", chosen[1], "invalid_value"
        )
    if not chosen and spec.latency_ms == 0:
        raise errors.invalid(
            "A chaos rule needs a fault: 'status', 'drop', 'timeout' or 'latency_ms'.",
            "status",
            "missing_required_parameter",
        )
    if spec.status is None:
        for name in ("retry_after", "retry_after_ms", "should_retry", "message"):
            if getattr(spec, name) is not None:
                raise errors.invalid(f"'{name}' only applies to a rule with a 'status'.", name)
    if spec.path is not None and spec.path_regex is not None:
        raise errors.invalid("Give either 'path' or 'path_regex', not both.", "path_regex")
    if spec.path_regex is not None:
        return PathPattern(spec.path_regex, "path_regex")
    return PathPattern(glob_to_re2(spec.path or DEFAULT_PATH), "path", dot_matches_newline=True)


@dataclass
class ChaosRule:
    id: str
    spec: ChaosSpec
    pattern: PathPattern
    rng: random.Random
    remaining: int | None
    org: str | None = None
    """The organization whose requests it hits; None: every organization's."""
    matched: int = 0
    injected: int = 0

    def matches(self, method: str, path: str, org: str | None) -> bool:
        if self.org is not None and self.org != org:
            return False
        if self.spec.method is not None and self.spec.method.upper() != method.upper():
            return False
        return self.pattern.search(path)

    def fires(self) -> bool:
        """Called for each matching request, in order; the seeded draw happens for every
        match while the rule is live, so the same request sequence gives the same faults."""
        if self.remaining == 0:
            return False
        self.matched += 1
        if self.matched <= self.spec.after:
            return False
        probability = self.spec.probability
        if probability is not None and self.rng.random() >= probability:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        self.injected += 1
        return True

    @property
    def exhausted(self) -> bool:
        return self.remaining == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": RULE_OBJECT,
            "id": self.id,
            "fault": self.spec.fault,
            **self.spec.model_dump(),
            "path": self.spec.path or (None if self.spec.path_regex else DEFAULT_PATH),
            "organization": self.org,
            "remaining": self.remaining,
            "matched": self.matched,
            "injected": self.injected,
        }


class Chaos:
    """The live rules of one server. Thread-safe: the pytest handle adds rules from the
    test's thread while requests are answered on the event loop's."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rules: list[ChaosRule] = []
        self._lock = threading.Lock()
        self._next_id = 1

    @property
    def idle(self) -> bool:
        """No rule is live (nothing can fire)."""
        return not self._rules

    def add(self, spec: ChaosSpec, org: str | None = None) -> ChaosRule:
        pattern = _check(spec)
        seed = self._seed if spec.seed is None else spec.seed
        with self._lock:
            if len(self._rules) >= MAX_RULES:
                raise errors.invalid(
                    f"A server holds at most {MAX_RULES} chaos rules; delete some first.",
                    "path",
                )
            rule = ChaosRule(
                id=f"{RULE_PREFIX}{self._next_id}",
                spec=spec,
                pattern=pattern,
                rng=random.Random(seed),
                remaining=spec.times,
                org=org,
            )
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def add_from(self, data: dict[str, Any], org: str | None = None) -> ChaosRule:
        return self.add(parse(ChaosSpec, data), org)

    def rules(self, org: str | None = None) -> list[ChaosRule]:
        """Every rule, or (`org`) the rules that organization added."""
        with self._lock:
            return [r for r in self._rules if org is None or r.org == org]

    def remove(self, rule_id: str, org: str | None = None) -> bool:
        with self._lock:
            kept = [r for r in self._rules if r.id != rule_id or (org is not None and r.org != org)]
            removed = len(kept) != len(self._rules)
            self._rules = kept
        return removed

    def clear(self, org: str | None = None) -> int:
        with self._lock:
            kept = [r for r in self._rules if org is not None and r.org != org]
            count = len(self._rules) - len(kept)
            self._rules = kept
        return count

    def pick(self, method: str, path: str, org: str | None = None) -> ChaosRule | None:
        """The first rule, in the order they were added, that fires for this request of
        organization `org`."""
        if not self._rules or path.startswith(OUTSIDE_API):
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, org) and rule.fires():
                    return rule
        return None


def chaos_error(
    spec: ChaosSpec, status: int, org_id: str, model: str | None = None
) -> errors.APIError:
    """The error a rule with a `status` answers with, in OpenAI's envelope and headers.
    `model`: the model a model call asked for, whose limits a 429 quotes (a model of no
    known family, or none, gets the organization-wide wording)."""
    shape = ERROR_SHAPES[status]
    headers: dict[str, str] = {}
    if spec.retry_after is not None:
        headers["retry-after"] = f"{spec.retry_after:g}"
    if spec.retry_after_ms is not None:
        headers["retry-after-ms"] = str(spec.retry_after_ms)
    if spec.should_retry is not None:
        headers["x-should-retry"] = "true" if spec.should_retry else "false"
    message = shape.message
    if status == RATE_LIMIT_STATUS:
        wait_ms: float = DEFAULT_RATE_LIMIT_WAIT_MS
        if spec.retry_after_ms is not None:
            wait_ms = spec.retry_after_ms
        elif spec.retry_after is not None:
            wait_ms = spec.retry_after * 1000
        wait = ratelimits.duration(round(wait_ms))
        family = None if model is None else ratelimits.family_of(model)
        if family is None:
            message = message.format(
                org=org_id, limit=RATE_LIMIT_RPM, wait=wait, docs=RATE_LIMIT_DOCS
            )
            headers |= {
                "x-ratelimit-limit-requests": str(RATE_LIMIT_RPM),
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": wait,
            }
        else:
            limits = ratelimits.limits_for(family)
            message = MODEL_RATE_LIMIT_MESSAGE.format(
                model=family, org=org_id, limit=limits.requests, wait=wait, docs=RATE_LIMIT_DOCS
            )
            # The six headers every answer of the model announces, at the request limit.
            headers |= {
                **ratelimits.headers(limits, 0),
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": wait,
            }
    return errors.APIError(
        status,
        spec.message or message,
        type=shape.type,
        code=shape.code,
        headers=headers,
    )
