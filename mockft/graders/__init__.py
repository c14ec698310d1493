"""Graders (alpha): the grader objects of reinforcement fine-tuning, parsed strictly and
scored deterministically, offline.

Pure: no HTTP, no storage, no clock. The same grader, sample and item always give the same
response, byte for byte. One concept per module:

- `base`: the strict object base, union tags, `GraderError` (accepted by the types, refused
  by the API)
- `templates`: ``{{ item.x }}`` / ``{{ sample.output_json.y }}``
- `formula`: ``calculate_output``'s arithmetic language
- `similarity`: ``text_similarity``'s metrics
- one module per kind: `string_check`, `text_similarity`, `python` (checked, never run),
  `model` (``score_model``, ``label_model``: stand-ins, no model offline), `multi`
- `parsing`: a grader from JSON; `scoring`: running it, the RunGraderResponse body
- `outcome`: reward, simulated time and token usage, error flags

The service (`mockft.service.graders`) words what is wrong as the real API does.
"""

from __future__ import annotations

from mockft.graders.base import GraderError, grader_api
from mockft.graders.formula import (
    MAX_FORMULA_LENGTH,
    FormulaError,
    evaluate_formula,
    formula_names,
    parse_formula,
)
from mockft.graders.parsing import AnyGrader, Grader, check_grader, parse_grader
from mockft.graders.python import MAX_PYTHON_SOURCE_BYTES
from mockft.graders.scoring import run
from mockft.graders.similarity import EVALUATION_METRICS, fuzzy_match, lcs_length, similarity
from mockft.graders.string_check import STRING_CHECK_OPERATIONS
from mockft.graders.templates import Namespaces, render_template

__all__ = [
    "EVALUATION_METRICS",
    "MAX_FORMULA_LENGTH",
    "MAX_PYTHON_SOURCE_BYTES",
    "STRING_CHECK_OPERATIONS",
    "AnyGrader",
    "FormulaError",
    "Grader",
    "GraderError",
    "Namespaces",
    "check_grader",
    "evaluate_formula",
    "formula_names",
    "fuzzy_match",
    "grader_api",
    "lcs_length",
    "parse_formula",
    "parse_grader",
    "render_template",
    "run",
    "similarity",
]
