"""Graders (alpha) as the API takes them: a request body or a job's grader parsed into the
pure grader objects (`mockft.graders`), with what is wrong worded as the real API words it.
Nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from mockft import errors
from mockft.errors import json_type_name
from mockft.graders import AnyGrader, Grader, GraderError, check_grader, grader_api, run
from mockft.graders.base import UNION_ERRORS, is_tag
from mockft.graders.parsing import GRADER_ADAPTER
from mockft.schemas import Request, from_validation_error

T = TypeVar("T")


class ValidateGraderRequest(Request):
    grader: Grader


class RunGraderRequest(Request):
    grader: Grader
    model_sample: str
    item: dict[str, Any] | None = None


class Graders:
    """``POST /fine_tuning/alpha/graders/validate`` and ``.../run``."""

    def validate(self, body: dict[str, Any]) -> dict[str, Any]:
        request = parse_validate_request(body)
        return {"grader": grader_api(request.grader)}

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        request = parse_run_request(body)
        return run(request.grader, request.model_sample, request.item)


def parse_validate_request(body: dict[str, Any]) -> ValidateGraderRequest:
    request = _validated(lambda: ValidateGraderRequest.model_validate(body), ())
    _checked(request.grader, "grader")
    return request


def parse_run_request(body: dict[str, Any]) -> RunGraderRequest:
    request = _validated(lambda: RunGraderRequest.model_validate(body), ())
    _checked(request.grader, "grader")
    return request


def parse_grader(data: object, param: str = "grader") -> AnyGrader:
    """A grader from anywhere (e.g. a reinforcement job's ``method.reinforcement.grader``);
    errors name ``param`` and the path below it."""
    grader = _validated(lambda: GRADER_ADAPTER.validate_python(data), tuple(param.split(".")))
    _checked(grader, param)
    return grader


def _checked(grader: AnyGrader, param: str) -> None:
    try:
        check_grader(grader, param)
    except GraderError as exc:
        raise errors.invalid(exc.message, exc.param, "invalid_value") from None


# -- pydantic's verdict in OpenAI's words ------------------------------------------------------


def _validated(validate: Callable[[], T], prefix: tuple[str, ...]) -> T:
    try:
        return validate()
    except ValidationError as exc:
        raise _api_error(exc, prefix) from None


def _api_error(exc: ValidationError, prefix: tuple[str, ...]) -> errors.APIError:
    found: list[dict[str, Any]] = []
    for error in exc.errors(include_url=False):
        loc = (*prefix, *(p for p in error["loc"] if not is_tag(p)))
        found.append({**error, "loc": loc})
    best = min(found, key=_rank)
    if best["type"] in UNION_ERRORS:
        return _union_error(best)
    if best["type"] == "finite_number":
        param = param_path(best["loc"])
        return errors.invalid(
            f"Invalid '{param}': expected a finite number, but got {json.dumps(best['input'])} "
            "instead.",
            param,
            "invalid_value",
        )
    detail: dict[str, Any] = {"type": best["type"], "loc": best["loc"], "input": best["input"]}
    if "ctx" in best:
        detail["ctx"] = best["ctx"]
    rebuilt = ValidationError.from_exception_data(exc.title, [detail])  # type: ignore[list-item]
    return from_validation_error(rebuilt)


def _rank(error: Mapping[str, Any]) -> int:
    if error["type"] == "missing" or (
        error["type"] in UNION_ERRORS
        and UNION_ERRORS[error["type"]][0]
        and isinstance(error["input"], dict)
        and "type" not in error["input"]
    ):
        return 0
    if error["type"] == "extra_forbidden":
        return 1
    return 2


def _union_error(error: Mapping[str, Any]) -> errors.APIError:
    param = param_path(error["loc"]) or "body"
    value = error["input"]
    allowed, expected = UNION_ERRORS[error["type"]]
    if not allowed or not isinstance(value, dict):
        return errors.invalid_type(param, expected, json_type_name(value))
    if "type" not in value:
        return errors.missing_param(f"{param}.type")
    return errors.invalid_value(f"{param}.type", value["type"], list(allowed))


def param_path(loc: Sequence[int | str]) -> str:
    """``("grader", "input", 0, "content")`` -> ``grader.input[0].content``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path
