"""Training-data validation: the checks the real fine-tuning service runs, in one pass.

``validate_file`` reads a JSONL file as an iterator of byte chunks (any sizes) and returns a
``ValidationReport``: for every check its count of offending lines with the first few line
numbers, token statistics, the examples over the model's per-example limit, billable tokens,
the first error as the job reports it ({code, message, param}) and the warnings. The server
(``service/jobs.py``) and ``mockft validate`` both call it, so they always agree.

Pure (but ``ranges``): no I/O, no clock, nothing from HTTP. One concept per module:

- ``formats``: methods, formats and what a valid example of each looks like;
- ``checks``: the checks, their codes and severities, in report order;
- ``messages``: every wording, the real service's where it is known;
- ``reader``: the file as lines, in bounded memory;
- ``fingerprints``: duplicate detection in bounded memory;
- ``walker``: the one pass over the lines (``validate_file``);
- ``report``: what the pass found, and the cost estimate;
- ``ranges``: a file on disk validated on both cores (the one module that reads files and
  starts a process; its report is the one pass's, byte for byte).
"""

from mockft.validation.checks import CHECKS, ERROR, MIN_EXAMPLES, OVER_TOKEN_LIMIT, WARNING, Check
from mockft.validation.formats import (
    DPO_KEYS,
    FORMAT_CHAT,
    FORMAT_DPO,
    FORMAT_PROMPT_COMPLETION,
    FORMAT_REINFORCEMENT,
    METHOD_DPO,
    METHOD_REINFORCEMENT,
    METHOD_SUPERVISED,
    METHODS,
    PROMPT_COMPLETION_KEYS,
    TRAINING_FILE,
    VALIDATION_FILE,
    expected_format,
    format_of,
)
from mockft.validation.ranges import validate_path
from mockft.validation.reader import lines
from mockft.validation.report import (
    CheckResult,
    CostEstimate,
    TokenStats,
    ValidationProblem,
    ValidationReport,
    estimate_cost,
)
from mockft.validation.walker import method_error, validate_file

__all__ = [
    "CHECKS",
    "DPO_KEYS",
    "ERROR",
    "FORMAT_CHAT",
    "FORMAT_DPO",
    "FORMAT_PROMPT_COMPLETION",
    "FORMAT_REINFORCEMENT",
    "METHODS",
    "METHOD_DPO",
    "METHOD_REINFORCEMENT",
    "METHOD_SUPERVISED",
    "MIN_EXAMPLES",
    "OVER_TOKEN_LIMIT",
    "PROMPT_COMPLETION_KEYS",
    "TRAINING_FILE",
    "VALIDATION_FILE",
    "WARNING",
    "Check",
    "CheckResult",
    "CostEstimate",
    "TokenStats",
    "ValidationProblem",
    "ValidationReport",
    "estimate_cost",
    "expected_format",
    "format_of",
    "lines",
    "method_error",
    "validate_file",
    "validate_path",
]
