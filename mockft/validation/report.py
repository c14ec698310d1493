"""What validation finds: per check, the tokens, the first error as a job reports it, the
warnings; and what training on the file would cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from mockft import lifecycle
from mockft.catalog import FineTuningSpec
from mockft.validation.checks import OVER_TOKEN_LIMIT

PER_MILLION: Final = 1_000_000


@dataclass(frozen=True)
class CheckResult:
    code: str
    severity: str
    title: str
    count: int  # lines with this problem (a line counts once per check)
    lines: tuple[int, ...]  # the first few of them, 1-based


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

    code: str  # invalid_file_format or invalid_n_examples
    message: str
    param: str
    check: str  # which check found it
    line: int | None  # None for a problem of the whole file


@dataclass(frozen=True)
class ValidationReport:
    model: str
    method: str
    format: str  # the format the model and method need
    purpose: str  # training_file or validation_file
    source: str
    tokenizer: str  # e.g. "bpe-openai:o200k_base"
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
        """The failed job's ``error`` object (None when the file is valid)."""
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
