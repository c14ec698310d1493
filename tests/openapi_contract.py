"""Check request and response bodies against OpenAI's published OpenAPI description.

The spec is read from ``$MOCKFT_OPENAPI`` or the copy vendored in this repository,
``tests/data/openai-openapi/openapi.json`` (the served paths of OpenAI's description and
every component they reference; ``python -m tests.refresh_spec`` renews it), normalised
once into plain JSON Schema 2020-12 (see ``_normalise_schema``) and used through a
``referencing`` registry, so ``$ref: "#/components/schemas/X"`` resolves against the whole
document. Validators are built once per schema location and cached.

Nearly every test checks every response it gets, and nearly every response conforms: an
instance is first checked by ``jsonschema_rs`` (compiled, ~50x faster), and only one it
rejects goes through ``jsonschema``, whose errors make the report. The verdict is
``jsonschema``'s either way, unless ``jsonschema_rs`` accepted an instance ``jsonschema``
rejects; tests/test_openapi_contract_backends.py shows that the two agree on the spec's
keywords (no ``pattern``, no ``multipleOf``; ``format`` an annotation in both).

Typical use in a test::

    response = client.post("/v1/fine_tuning/jobs", json=payload)
    check(response)  # raises AssertionError listing every violation with its JSON path
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import quote, urlsplit

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

__all__ = [
    "ENV_VAR",
    "SPEC_DEVIATIONS",
    "Operation",
    "ResponseLike",
    "UnknownOperationError",
    "assert_request_conforms",
    "assert_response_conforms",
    "check",
    "load_spec",
    "normalise_schema",
    "operation_for",
    "raw_spec",
    "request_violations",
    "response_violations",
    "schema_violations",
    "spec_path",
]

VENDORED_SPEC: Final = Path(__file__).resolve().parent / "data" / "openai-openapi" / "openapi.json"

ENV_VAR: Final = "MOCKFT_OPENAPI"
SPEC_URI: Final = "urn:mockft:openai-openapi"
ERROR_RESPONSE_POINTER: Final = "/components/schemas/ErrorResponse"
ERROR_KEYS: Final = frozenset({"message", "type", "param", "code"})

# The only place where we accept something the spec does not describe. Each entry extends the
# enum at a JSON pointer of the (normalised copy of the) spec; nothing else is loosened.
#
# FineTuningJob.status: the real service reports "paused" for a job paused through
# POST /fine_tuning/jobs/{id}/pause (an endpoint the spec itself documents, as it documents
# /resume), but the spec's FineTuningJob.status enum lacks "paused".
SPEC_DEVIATIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "/components/schemas/FineTuningJob/properties/status": ("paused",),
    # OpenAIFile.purpose: createFile accepts purpose "evals" (CreateFileRequest's enum), and
    # the file it creates has that purpose, but OpenAIFile's enum lacks it.
    "/components/schemas/OpenAIFile/properties/purpose": ("evals",),
}
# ListFilesResponse.first_id / last_id: the spec requires strings, but an empty page has no
# first or last object; the real API (like its other cursor lists, e.g. checkpoints, whose
# schema says so) sends null there.
NULLABLE_DEVIATIONS: Final[tuple[str, ...]] = (
    "/components/schemas/ListFilesResponse/properties/first_id",
    "/components/schemas/ListFilesResponse/properties/last_id",
    # FineTuningJob.hyperparameters: required and an object, but "only returned when
    # running supervised jobs" (its own description); real DPO jobs show null.
    "/components/schemas/FineTuningJob/properties/hyperparameters",
    # FineTuningJobEvent.data: an object, but the real "Fine-tuning job started" event has
    # null there (every capture of it: users' printed event lists, 2023-2024).
    "/components/schemas/FineTuningJobEvent/properties/data",
    # OpenAIFile.status_details and .expires_at: deprecated / optional strings and integers,
    # but every captured file object has `"status_details": null` (2023-11 to 2025-08) and
    # those of 2025 `"expires_at": null` for a file that does not expire.
    "/components/schemas/OpenAIFile/properties/status_details",
    "/components/schemas/OpenAIFile/properties/expires_at",
)
# FineTuningJob.error: an error object or null per the spec, but every capture of a job
# that has not failed shows {} (ruby-openai's cassettes, users' printed jobs).
EMPTY_OBJECT_DEVIATIONS: Final[tuple[str, ...]] = (
    "/components/schemas/FineTuningJob/properties/error",
)

_HTTP_METHODS: Final = frozenset(
    {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
)
# Keywords whose value is one subschema / a list of them / a name -> subschema mapping.
_SUBSCHEMA: Final = (
    "additionalProperties", "items", "not", "if", "then", "else", "propertyNames",
    "contains", "unevaluatedProperties", "unevaluatedItems", "additionalItems",
)  # fmt: skip
_SUBSCHEMA_LISTS: Final = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_SUBSCHEMA_MAPS: Final = (
    "properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
)  # fmt: skip
# Keywords that say nothing about which instances are valid; they stay on a schema that is
# wrapped in `anyOf: [..., {type: null}]`.
_ANNOTATIONS: Final = frozenset(
    {"title", "description", "default", "example", "examples", "deprecated", "readOnly",
     "writeOnly", "$comment"}
)  # fmt: skip
# Keywords beside which adding "null" to `type` would not be enough to admit null.
_APPLICATORS: Final = frozenset(
    {"$ref", "$dynamicRef", "allOf", "anyOf", "oneOf", "not", "if", "const"}
)


class UnknownOperationError(LookupError):
    """The request path or method is not described by the spec."""


@dataclass(frozen=True)
class Operation:
    """One operation of the spec, as matched for a concrete request."""

    method: str  # upper case, e.g. "POST"
    path_template: str  # the spec's path key, e.g. "/fine_tuning/jobs/{fine_tuning_job_id}"
    operation_id: str
    path_params: Mapping[str, str] = field(compare=False)
    pointer: str  # JSON pointer of the operation object within the spec

    @property
    def spec(self) -> Mapping[str, Any]:
        """The (normalised) operation object."""
        operation: Mapping[str, Any] = _resolve_pointer(_spec().document, self.pointer)
        return operation


class _URLLike(Protocol):
    @property
    def path(self) -> str: ...


class _RequestLike(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def url(self) -> _URLLike: ...


class ResponseLike(Protocol):
    """What `check` needs: httpx, httpx2 and Starlette TestClient responses all fit."""

    @property
    def request(self) -> _RequestLike: ...

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...

    def json(self) -> Any: ...


# --- loading ---------------------------------------------------------------------------------


def spec_path() -> Path:
    """``$MOCKFT_OPENAPI`` if set (e.g. a whole upstream copy), else the vendored copy."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser().resolve()
    return VENDORED_SPEC


@dataclass(frozen=True)
class _Template:
    key: str
    pattern: re.Pattern[str]
    specificity: tuple[int, ...]  # per segment: 2 literal, 1 mixed, 0 a bare {param}
    query: Mapping[str, str]  # "?beta=true" style variants of a path in the spec


@dataclass(frozen=True)
class _Spec:
    path: Path
    raw: Mapping[str, Any]
    document: dict[str, Any]  # normalised copy
    registry: Registry[Any]
    base_path: str  # "/v1", from servers[0].url
    templates: tuple[_Template, ...]


def load_spec() -> Mapping[str, Any]:
    """The normalised spec (a deep copy of the file's content; the raw one is not modified)."""
    return _spec().document


def raw_spec() -> Mapping[str, Any]:
    """The spec exactly as in the file (for comparison; validation uses `load_spec`)."""
    return _spec().raw


def _spec() -> _Spec:
    return _load(spec_path())


@cache
def _load(path: Path) -> _Spec:
    if not path.is_file():
        raise FileNotFoundError(
            f"OpenAI OpenAPI description not found at {path}; unset ${ENV_VAR} to use the "
            f"copy in the repository ({VENDORED_SPEC.relative_to(VENDORED_SPEC.parents[2])})"
        )
    raw = json.loads(path.read_bytes())
    document = copy.deepcopy(raw)
    _normalise_document(document)
    _apply_deviations(document)
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, DRAFT202012.create_resource(document)
    )
    servers = document.get("servers") or [{"url": ""}]
    base_path = urlsplit(servers[0]["url"]).path.rstrip("/")
    templates = tuple(_compile_template(key) for key in document.get("paths", {}))
    return _Spec(path, raw, document, registry, base_path, templates)


# --- normalisation -------------------------------------------------------------------------


def _normalise_document(document: dict[str, Any]) -> None:
    """Rewrite, in place, every schema of an OpenAPI document into JSON Schema 2020-12."""
    components = document.get("components", {})
    for schema in components.get("schemas", {}).values():
        _normalise_schema(schema)
    for parameter in components.get("parameters", {}).values():
        _normalise_parameter(parameter)
    for header in components.get("headers", {}).values():
        _normalise_parameter(header)
    for body in components.get("requestBodies", {}).values():
        _normalise_content(body)
    for response in components.get("responses", {}).values():
        _normalise_response(response)
    for group in ("paths", "webhooks"):
        for item in document.get(group, {}).values():
            _normalise_path_item(item)


def _normalise_path_item(item: dict[str, Any]) -> None:
    for parameter in item.get("parameters", []):
        _normalise_parameter(parameter)
    for method, operation in item.items():
        if method not in _HTTP_METHODS or not isinstance(operation, dict):
            continue
        for parameter in operation.get("parameters", []):
            _normalise_parameter(parameter)
        if "requestBody" in operation:
            _normalise_content(operation["requestBody"])
        for response in operation.get("responses", {}).values():
            _normalise_response(response)


def _normalise_parameter(parameter: dict[str, Any]) -> None:
    if isinstance(parameter.get("schema"), dict):
        _normalise_schema(parameter["schema"])
    _normalise_content(parameter)


def _normalise_response(response: dict[str, Any]) -> None:
    _normalise_content(response)
    for header in response.get("headers", {}).values():
        _normalise_parameter(header)


def _normalise_content(holder: dict[str, Any]) -> None:
    for media in holder.get("content", {}).values():
        if isinstance(media.get("schema"), dict):
            _normalise_schema(media["schema"])


def normalise_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A normalised deep copy of one schema object (see `_normalise_schema` for the rules)."""
    copied: dict[str, Any] = copy.deepcopy(dict(schema))
    _normalise_schema(copied)
    return copied


def _normalise_schema(schema: Any) -> None:
    """Turn an OpenAPI 3.0/3.1 schema object into plain 2020-12, in place.

    - ``exclusiveMinimum: true`` beside ``minimum: X`` -> ``exclusiveMinimum: X`` (draft 4);
      ``false`` is dropped. The same for ``exclusiveMaximum``/``maximum``.
    - ``nullable: true`` (OpenAPI 3.0) -> null is allowed: "null" is added to ``type`` (and
      None to ``enum``), or, beside ``$ref``/``allOf``/... or with no ``type``, the validating
      keywords move into ``anyOf: [{...}, {"type": "null"}]``.
    - ``discriminator`` is dropped (OpenAPI-only; the oneOf/anyOf beside it still applies).
    Only schema keywords are visited: property names, examples and defaults are left alone.
    """
    if not isinstance(schema, dict):
        return
    for keyword in _SUBSCHEMA:
        if isinstance(schema.get(keyword), dict):
            _normalise_schema(schema[keyword])
    for keyword in _SUBSCHEMA_LISTS:
        if isinstance(schema.get(keyword), list):
            for subschema in schema[keyword]:
                _normalise_schema(subschema)
    for keyword in _SUBSCHEMA_MAPS:
        if isinstance(schema.get(keyword), dict):
            for subschema in schema[keyword].values():
                _normalise_schema(subschema)

    schema.pop("discriminator", None)
    for exclusive, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = schema.get(exclusive)
        if isinstance(flag, bool):
            del schema[exclusive]
            if flag and inclusive in schema:
                schema[exclusive] = schema.pop(inclusive)
    if schema.pop("nullable", False) is True:
        _allow_null(schema)


def _allow_null(schema: dict[str, Any]) -> None:
    if "type" in schema and not _APPLICATORS & schema.keys():
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if "null" not in types:
            schema["type"] = [*types, "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return
    constraints = {
        key: schema.pop(key)
        for key in list(schema)
        if key not in _ANNOTATIONS and not key.startswith("x-")
    }
    if constraints:  # with no constraint at all, null is already allowed
        schema["anyOf"] = [constraints, {"type": "null"}]


def _apply_deviations(document: dict[str, Any]) -> None:
    for pointer, extra in SPEC_DEVIATIONS.items():
        schema = _resolve_pointer(document, pointer)
        if not isinstance(schema, dict) or not isinstance(schema.get("enum"), list):
            raise LookupError(f"SPEC_DEVIATIONS: no enum at {pointer}; has the spec changed?")
        schema["enum"] = [*schema["enum"], *(v for v in extra if v not in schema["enum"])]
    for pointer in NULLABLE_DEVIATIONS:
        schema = _resolve_pointer(document, pointer)
        if not isinstance(schema, dict) or "type" not in schema:
            raise LookupError(f"NULLABLE_DEVIATIONS: no typed schema at {pointer}")
        _allow_null(schema)
    for pointer in EMPTY_OBJECT_DEVIATIONS:
        schema = _resolve_pointer(document, pointer)
        if not isinstance(schema, dict) or not isinstance(schema.get("anyOf"), list):
            raise LookupError(f"EMPTY_OBJECT_DEVIATIONS: no anyOf at {pointer}")
        schema["anyOf"].append({"type": "object", "maxProperties": 0})


# --- path matching -------------------------------------------------------------------------


def _compile_template(key: str) -> _Template:
    path, _, query = key.partition("?")
    parts: list[str] = []
    specificity: list[int] = []
    for segment in path.strip("/").split("/"):
        pieces = re.split(r"(\{[^}/]+\})", segment)
        regex = "".join(
            f"(?P<{_group_name(p)}>[^/]+)" if p.startswith("{") else re.escape(p)
            for p in pieces
            if p
        )
        parts.append(regex)
        params = sum(1 for p in pieces if p.startswith("{"))
        literal = any(p and not p.startswith("{") for p in pieces)
        specificity.append(2 if not params else 1 if literal else 0)
    pattern = re.compile("/" + "/".join(parts) if path.strip("/") else "/")
    query_pairs = dict(pair.partition("=")[::2] for pair in query.split("&") if pair)
    return _Template(key, pattern, tuple(specificity), query_pairs)


def _group_name(placeholder: str) -> str:
    # regex group names must be identifiers; keep the original in the pattern's groupindex
    name = placeholder[1:-1]
    return name if name.isidentifier() else "p_" + re.sub(r"\W", "_", name)


def operation_for(method: str, path: str) -> Operation:
    """Match a concrete request, e.g. ``GET /v1/files/file-abc/content``, to the spec.

    ``path`` may carry a query string or be a full URL; it must start with the server's base
    path (``/v1``). Fixed segments win over templated ones; a path parameter is one whole
    segment, so model ids such as ``ft:gpt-4o-mini-2024-07-18:org::abc12345`` stay intact.
    Raises `UnknownOperationError` if no path or method of the spec matches.
    """
    spec = _spec()
    parts = urlsplit(path)
    request_path = parts.path
    query = dict(pair.partition("=")[::2] for pair in parts.query.split("&") if pair)
    if spec.base_path:
        if request_path != spec.base_path and not request_path.startswith(spec.base_path + "/"):
            raise UnknownOperationError(
                f"{path!r} is not under the API base path {spec.base_path!r}"
            )
        request_path = request_path[len(spec.base_path) :] or "/"

    candidates: list[tuple[tuple[int, ...], _Template, re.Match[str]]] = []
    for template in spec.templates:
        match = template.pattern.fullmatch(request_path)
        if match and all(query.get(k) == v for k, v in template.query.items()):
            rank = (*template.specificity, len(template.query))
            candidates.append((rank, template, match))
    if not candidates:
        raise UnknownOperationError(f"no path of the spec matches {path!r}")
    _, template, match = max(candidates, key=lambda c: c[0])

    item = spec.document["paths"][template.key]
    operation = item.get(method.lower())
    if method.lower() not in _HTTP_METHODS or not isinstance(operation, dict):
        allowed = sorted(m.upper() for m in item if m in _HTTP_METHODS)
        raise UnknownOperationError(
            f"{method.upper()} is not an operation of {template.key} (spec has {allowed})"
        )
    names = {_group_name("{" + n + "}"): n for n in re.findall(r"\{([^}/]+)\}", template.key)}
    return Operation(
        method=method.upper(),
        path_template=template.key,
        operation_id=str(operation.get("operationId", "")),
        path_params={names[g]: v for g, v in match.groupdict().items()},
        pointer=f"/paths/{_escape(template.key)}/{method.lower()}",
    )


# --- validation ----------------------------------------------------------------------------


def response_violations(
    method: str, path: str, status: int, body: Any, content_type: str | None = None
) -> list[str]:
    """Every way the response differs from the spec (empty when it conforms).

    ``body`` is the parsed JSON, or the raw bytes/str when ``content_type`` is not JSON
    (``None`` means JSON). Non-JSON bodies (file content) are not validated; only their status
    must be documented or 200. An undocumented 4xx/5xx is checked against ``ErrorResponse``.
    Every 4xx/5xx must also carry exactly ``error.{message,type,param,code}``.
    """
    operation = operation_for(method, path)
    responses = operation.spec.get("responses", {})
    response_key = _response_key(responses, status)
    response = None if response_key is None else _deref(responses[response_key])
    is_error = status >= 400

    if not _is_json(content_type):
        if is_error:
            return [f"$: error responses must be JSON, got content type {content_type!r}"]
        if response_key is None and status != 200:
            return [_undocumented(operation, status, responses)]
        return []

    if response_key is not None and response is not None:
        media = _json_media(response.get("content", {}))
        if media is None:
            return [f"$: the spec documents no JSON body for {status} of {_name(operation)}"]
        pointer = f"{_response_pointer(operation, responses, response_key)}/{_escape(media)}"
        found = _errors(pointer + "/schema", body)
    elif is_error:
        found = _errors(ERROR_RESPONSE_POINTER, body)
    else:
        return [_undocumented(operation, status, responses)]
    if is_error:
        found += _error_envelope_violations(body)
    return found


def request_violations(method: str, path: str, json_body: Any) -> list[str]:
    """Every way a JSON request body differs from what the operation accepts."""
    operation = operation_for(method, path)
    request_body = operation.spec.get("requestBody")
    if request_body is None:
        return [f"$: {_name(operation)} takes no request body"]
    media = _json_media(_deref(request_body).get("content", {}))
    if media is None:
        return [f"$: {_name(operation)} takes no JSON request body"]
    body_pointer = operation.pointer + "/requestBody"
    if "$ref" in request_body:
        body_pointer = _local_pointer(request_body["$ref"])
    return _errors(f"{body_pointer}/content/{_escape(media)}/schema", json_body)


def schema_violations(name: str, instance: Any) -> list[str]:
    """Validate against ``#/components/schemas/<name>`` of the normalised spec."""
    return _errors(f"/components/schemas/{_escape(name)}", instance)


def assert_response_conforms(
    method: str, path: str, status: int, body: Any, content_type: str | None = None
) -> None:
    found = response_violations(method, path, status, body, content_type)
    if found:
        raise AssertionError(_report(f"response {method.upper()} {path} -> {status}", found))


def assert_request_conforms(method: str, path: str, json_body: Any) -> None:
    found = request_violations(method, path, json_body)
    if found:
        raise AssertionError(_report(f"request body of {method.upper()} {path}", found))


def check(response: ResponseLike) -> None:
    """Assert that an HTTP response (httpx, httpx2, Starlette TestClient) conforms."""
    method = response.request.method
    path = response.request.url.path
    content_type = response.headers.get("content-type")
    body: Any
    if _is_json(content_type):
        try:
            body = response.json()
        except ValueError as error:
            raise AssertionError(
                _report(
                    f"response {method} {path} -> {response.status_code}",
                    [f"$: body is not valid JSON ({error})"],
                )
            ) from None
    else:
        body = response.content
    assert_response_conforms(method, path, response.status_code, body, content_type)


# --- helpers ---------------------------------------------------------------------------------


def _errors(pointer: str, instance: Any) -> list[str]:
    spec_file = str(_spec().path)
    if _conforms_at_once(spec_file, pointer, instance):
        return []
    validator = _validator(spec_file, pointer)
    errors = sorted(validator.iter_errors(instance), key=_error_order)
    return [_describe(error) for error in errors]


def _error_order(error: ValidationError) -> tuple[tuple[tuple[int, int | str], ...], str]:
    # parents before children, array items in index order, then by message
    path = tuple((0, p) if isinstance(p, int) else (1, str(p)) for p in error.absolute_path)
    return path, error.message


@cache
def _validator(spec_file: str, pointer: str) -> Draft202012Validator:
    spec = _load(Path(spec_file))
    _resolve_pointer(spec.document, pointer)  # fail early, with a readable KeyError
    # `format` stays an annotation (the 2020-12 default): "unixtime", "int64", "binary", ...
    # are OpenAPI/OpenAI vocabulary, not assertions.
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{quote(pointer, safe='/~')}"}, registry=spec.registry
    )


def _conforms_at_once(spec_file: str, pointer: str, instance: Any) -> bool:
    """Whether the compiled validator accepts `instance`. False means: ask `jsonschema`; so
    for anything but plain parsed JSON (a tuple is an array to `jsonschema_rs`, not to
    `jsonschema`), and for what `jsonschema_rs` cannot take (e.g. a lone surrogate)."""
    if not _plain_json(instance):
        return False
    try:
        return bool(_fast_validator(spec_file, pointer).is_valid(instance))
    except ValueError:
        return False


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def _plain_json(instance: Any) -> bool:
    """Made only of what `json.loads` makes: dicts with str keys, lists, str, int, float,
    bool, None."""
    stack = [instance]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is dict:
            if not all(type(key) is str for key in node):
                return False
            stack.extend(node.values())
        elif kind is list:
            stack.extend(node)
        elif kind not in _SCALARS:
            return False
    return True


@cache
def _fast_validator(spec_file: str, pointer: str) -> Any:
    _validator(spec_file, pointer)  # the same early, readable failure for a wrong pointer
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{quote(pointer, safe='/~')}"},
        registry=_fast_registry(spec_file),
        validate_formats=False,  # as for `jsonschema`: format is an annotation
    )


@cache
def _fast_registry(spec_file: str) -> Any:
    return jsonschema_rs.Registry([(SPEC_URI, _load(Path(spec_file)).document)])


def _describe(error: ValidationError) -> str:
    text = f"{error.json_path}: {error.message}"
    closest = _closest_branch(error)
    if closest:  # anyOf/oneOf: say which branch came closest and why it failed
        reasons = [
            f"{e.json_path + ': ' if e.json_path != error.json_path else ''}{e.message}"
            for e in sorted(closest, key=_error_order)
        ]
        more = f"; and {len(reasons) - 3} more" if len(reasons) > 3 else ""
        text += f" (closest: {'; '.join(reasons[:3])}{more})"
    return text


def _closest_branch(error: ValidationError) -> list[ValidationError]:
    """The failures of the anyOf/oneOf branch the instance came closest to matching.

    A branch whose ``type`` the instance already fails is a poor guess; among the others, the
    one with the fewest failures wins (jsonschema's `best_match` as the last resort).
    """
    if not error.context:
        return []
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    typed = [
        failures
        for failures in branches.values()
        if not any(e.validator == "type" and not e.relative_path for e in failures)
    ]
    if typed:
        return min(typed, key=len)
    return [best_match(error.context)]


def _error_envelope_violations(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return []  # the schema errors already say so
    keys = set(body["error"])
    if keys == ERROR_KEYS:
        return []
    problems = []
    if ERROR_KEYS - keys:
        problems.append(f"missing {sorted(ERROR_KEYS - keys)}")
    if keys - ERROR_KEYS:
        problems.append(f"unexpected {sorted(keys - ERROR_KEYS)}")
    return [f"$.error: must have exactly the keys {sorted(ERROR_KEYS)}: {'; '.join(problems)}"]


def _response_key(responses: Mapping[str, Any], status: int) -> str | None:
    for key in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default"):
        if key in responses:
            return key
    return None


def _response_pointer(operation: Operation, responses: Mapping[str, Any], key: str) -> str:
    response = responses[key]
    if isinstance(response, dict) and "$ref" in response:
        return _local_pointer(response["$ref"]) + "/content"
    return f"{operation.pointer}/responses/{_escape(key)}/content"


def _deref(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _resolve_pointer(_spec().document, _local_pointer(node["$ref"]))
    return node


def _local_pointer(ref: str) -> str:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, got {ref!r}")
    return ref[1:]


def _resolve_pointer(document: Any, pointer: str) -> Any:
    node = document
    for token in _unescape_all(pointer):
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _unescape_all(pointer: str) -> Iterator[str]:
    if pointer:
        for token in pointer.lstrip("/").split("/"):
            yield token.replace("~1", "/").replace("~0", "~")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _json_media(content: Mapping[str, Any]) -> str | None:
    return next((media for media in content if _is_json(media)), None)


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _name(operation: Operation) -> str:
    return f"{operation.operation_id} ({operation.method} {operation.path_template})"


def _undocumented(operation: Operation, status: int, responses: Iterable[str]) -> str:
    documented = ", ".join(sorted(responses))
    return f"$: status {status} is not documented for {_name(operation)} (spec has {documented})"


def _report(subject: str, found: list[str]) -> str:
    lines = "\n".join(f"  - {violation}" for violation in found)
    return f"{subject} does not conform to the OpenAI OpenAPI description:\n{lines}"
