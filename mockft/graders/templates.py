"""``{{ namespace.variable }}`` templates: parsed at validate, rendered at run.

The namespaces are ``item`` (the request's ``item``) and ``sample``; nested values by
JSON-path-like access: ``{{ item.answer.city }}``, ``{{ sample.output_json.names[0] }}``.
``sample`` offers ``output_text`` (``model_sample``) and ``output_json`` (``model_sample``
parsed, when it is JSON). ``output_tools``, ``choices`` and ``output_audio`` are valid names
(validate accepts them) but a text sample has none of them, so a run that reads them reports
``invalid_variable_error``. A value that is not a string is inserted as compact JSON
(``1.5``, ``true``, ``{"a":1}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

from mockft.graders.base import invalid

NAMESPACES: Final = ("item", "sample")
SAMPLE_VARIABLES: Final = ("output_text", "output_json", "output_tools", "choices", "output_audio")
TEMPLATE: Final = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
PATH_PART: Final = re.compile(r"([^.\[\]\s]+)((?:\[\d+\])*)")
INDEX: Final = re.compile(r"\[(\d+)\]")


class TemplateError(ValueError):
    """A ``{{ }}`` that is not ``namespace.variable``."""


class VariableError(LookupError):
    """A variable that does not resolve against the run's item and sample."""


class SampleParseError(LookupError):
    """``sample.output_json`` of a sample that is not JSON."""


@dataclass(frozen=True)
class Variable:
    namespace: str
    path: tuple[str | int, ...]


def parse_variable(expression: str) -> Variable:
    text = expression.strip()
    steps: list[str | int] = []
    for part in text.split("."):
        match = PATH_PART.fullmatch(part)
        if match is None:
            raise TemplateError(f"'{{{{{expression}}}}}' is not of the form namespace.variable.")
        steps.append(match.group(1))
        steps.extend(int(i) for i in INDEX.findall(match.group(2)))
    namespace = steps[0]
    if namespace not in NAMESPACES:
        raise TemplateError(
            f"'{{{{{expression}}}}}' uses the namespace '{namespace}'; the supported namespaces "
            "are 'item' and 'sample'."
        )
    if len(steps) < 2:
        raise TemplateError(f"'{{{{{expression}}}}}' names a namespace but no variable.")
    if namespace == "sample" and steps[1] not in SAMPLE_VARIABLES:
        supported = ", ".join(f"'{v}'" for v in SAMPLE_VARIABLES)
        raise TemplateError(
            f"'{{{{{expression}}}}}' reads 'sample.{steps[1]}'; the sample variables are "
            f"{supported}."
        )
    return Variable(str(namespace), tuple(steps[1:]))


def template_variables(text: str) -> list[Variable]:
    return [parse_variable(m.group(1)) for m in TEMPLATE.finditer(text)]


def check_template(text: str, param: str) -> None:
    """Every ``{{ }}`` of ``text`` names a variable; `GraderError` naming ``param`` if not."""
    try:
        template_variables(text)
    except TemplateError as exc:
        raise invalid(param, str(exc)) from None


def check_templates(param: str, **texts: str) -> None:
    """`check_template` for each named text, e.g. ``input=..., reference=...``."""
    for name, text in texts.items():
        check_template(text, f"{param}.{name}")


@dataclass(frozen=True)
class Namespaces:
    """What templates read: ``item`` and the ``sample`` built from ``model_sample``."""

    model_sample: str
    item: Mapping[str, Any]

    @cached_property
    def sample(self) -> dict[str, Any]:
        sample: dict[str, Any] = {"output_text": self.model_sample}
        try:
            sample["output_json"] = json.loads(self.model_sample)
        except (ValueError, RecursionError):  # not JSON, or nested past what json can read
            pass
        return sample


def render_template(text: str, namespaces: Namespaces) -> str:
    sample = namespaces.sample

    def substitute(match: re.Match[str]) -> str:
        variable = parse_variable(match.group(1))
        if variable.namespace == "item":
            value = _resolve(namespaces.item, variable.path)
        elif variable.path[0] == "output_json" and "output_json" not in sample:
            raise SampleParseError("the sample is not valid JSON")
        else:
            value = _resolve(sample, variable.path)
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    return TEMPLATE.sub(substitute, text)


def _resolve(root: object, path: Sequence[str | int]) -> object:
    value = root
    for step in path:
        if isinstance(value, Mapping) and isinstance(step, str) and step in value:
            value = value[step]
        elif isinstance(value, list) and isinstance(step, int) and step < len(value):
            value = value[step]
        else:
            raise VariableError(".".join(str(s) for s in path))
    return value
