"""The one error path: every failure becomes OpenAI's envelope
`{"error": {"message", "type", "param", "code"}}` with the real status and wording."""

from __future__ import annotations

import json
from typing import Any

INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"

MISSING_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password "
    "field (with blank username) if you're accessing the API from your browser and are "
    "prompted for a username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
INVALID_JSON_MESSAGE = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
    "contact us through our help center at help.openai.com.)"
)
SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"
MASK_KEEP_HEAD = 8  # characters of a wrong key the 401 shows before the stars
MASK_KEEP_TAIL = 4  # and after them


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def invalid(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def missing_param(param: str) -> APIError:
    return invalid(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def unknown_param(param: str) -> APIError:
    param = excerpt(param)
    return invalid(f"Unrecognized request argument supplied: {param}", param)


def invalid_type(param: str, expected: str, got: str) -> APIError:
    return invalid(
        f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
        param,
        "invalid_type",
    )


def invalid_value(param: str, value: object, allowed: list[str]) -> APIError:
    if len(allowed) > 1:
        supported = ", ".join(f"'{a}'" for a in allowed[:-1]) + f" and '{allowed[-1]}'"
    else:
        supported = f"'{allowed[0]}'"
    return invalid(
        f"Invalid value: '{value_text(value)}'. Supported values are: {supported}.",
        param,
        "invalid_value",
    )


def below_minimum(param: str, minimum: float, got: object, *, inclusive: bool = True) -> APIError:
    return _out_of_range(param, minimum, got, low=True, inclusive=inclusive)


def above_maximum(param: str, maximum: float, got: object, *, inclusive: bool = True) -> APIError:
    return _out_of_range(param, maximum, got, low=False, inclusive=inclusive)


def _out_of_range(param: str, bound: float, got: object, *, low: bool, inclusive: bool) -> APIError:
    number = "integer" if isinstance(bound, int) and isinstance(got, int) else "number"
    relation = (">" if low else "<") + ("=" if inclusive else "")
    side = "below minimum" if low else "above maximum"
    return invalid(
        f"Invalid '{param}': {number} {side} value. Expected a value {relation} "
        f"{value_text(bound)}, but got {value_text(got)} instead.",
        param,
        f"{number}_{'below_min' if low else 'above_max'}_value",
    )


def string_too_long(param: str, maximum: int, got: int) -> APIError:
    return invalid(
        f"Invalid '{param}': string too long. Expected a string with maximum length "
        f"{maximum}, but got a string with length {got} instead.",
        param,
        "string_above_max_length",
    )


def invalid_json() -> APIError:
    return invalid(INVALID_JSON_MESSAGE)


def invalid_url(method: str, path: str) -> APIError:
    return APIError(404, f"Invalid URL ({method} {path})")


def missing_api_key() -> APIError:
    return APIError(401, MISSING_KEY_MESSAGE)


def incorrect_api_key(key: str) -> APIError:
    return APIError(
        401,
        f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def mask_key(key: str) -> str:
    """A wrong key as the real 401 echoes it: the first eight and the last four characters,
    a star for each one between; a key of twelve characters or fewer is shown whole
    ("lm-studio", "claude"). Captures: see docs/fidelity.md, "Errors, auth and headers"."""
    if len(key) <= MASK_KEEP_HEAD + MASK_KEEP_TAIL:
        return key
    hidden = len(key) - MASK_KEEP_HEAD - MASK_KEEP_TAIL
    return key[:MASK_KEEP_HEAD] + "*" * hidden + key[-MASK_KEEP_TAIL:]


def file_not_found(file_id: str) -> APIError:
    return APIError(404, f"No such File object: {file_id}", param="id")


def upload_not_found(upload_id: str) -> APIError:
    return APIError(404, f"No such Upload object: {upload_id}", param="upload_id")


def model_not_found(model: str) -> APIError:
    model = excerpt(model, MODEL_NAME_CHARS)
    return APIError(
        404, f"The model '{model}' does not exist", param="model", code="model_not_found"
    )


def job_not_found(job_id: str) -> APIError:
    return APIError(
        404,
        f"Could not find fine tune: {job_id}",
        param="fine_tune_id",
        code="fine_tune_not_found",
    )


def server_error() -> APIError:
    return APIError(500, SERVER_ERROR_MESSAGE, type=SERVER_ERROR)


# -- sweep (issue 12): errors the sweep of public captures found ------------------------


def mismatched_organization() -> APIError:
    """An `OpenAI-Organization` header naming an organization the key is not in."""
    return APIError(
        401,
        "OpenAI-Organization header should match organization for API key",
        code="mismatched_organization",
    )


# -- data (validation, downloads, inference) ----------------------------------------------

# The purposes whose bytes the Files API never hands back (captured: assistants, user_data).
UNDOWNLOADABLE_PURPOSES = frozenset({"assistants", "user_data"})


def download_not_allowed(purpose: str) -> APIError:
    return invalid(f"Not allowed to download files of purpose: {purpose}")


def context_length_exceeded(
    limit: int, prompt_tokens: int, completion_tokens: int | None
) -> APIError:
    """Chat: the messages (and the completion asked for) do not fit the model's context."""
    if completion_tokens is None:
        message = (
            f"This model's maximum context length is {limit} tokens. However, your messages "
            f"resulted in {prompt_tokens} tokens. Please reduce the length of the messages."
        )
    else:
        message = (
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{prompt_tokens + completion_tokens} tokens ({prompt_tokens} in the messages, "
            f"{completion_tokens} in the completion). Please reduce the length of the messages "
            "or completion."
        )
    return invalid(message, "messages", "context_length_exceeded")


def prompt_too_long(limit: int, prompt_tokens: int, completion_tokens: int) -> APIError:
    """Legacy completions: the prompt and the completion asked for do not fit."""
    return invalid(
        f"This model's maximum context length is {limit} tokens, however you requested "
        f"{prompt_tokens + completion_tokens} tokens ({prompt_tokens} in your prompt; "
        f"{completion_tokens} for the completion). Please reduce your prompt; or completion "
        "length."
    )


def max_tokens_too_large(param: str, value: int, limit: int) -> APIError:
    return invalid(
        f"{param} is too large: {value}. This model supports at most {limit} completion "
        f"tokens, whereas you provided {value}.",
        param,
    )


def top_logprobs_without_logprobs() -> APIError:
    return invalid(
        "Invalid value for 'top_logprobs': 'logprobs' must be set to true if 'top_logprobs' is "
        "used.",
        "top_logprobs",
        "invalid_value",
    )


# -- inference (chat and completions requests) --------------------------------------------

NOT_A_CHAT_MODEL_MESSAGE = (
    "This is not a chat model and thus not supported in the v1/chat/completions endpoint. "
    "Did you mean to use v1/completions?"
)
CHAT_MODEL_ON_COMPLETIONS_MESSAGE = (
    "This is a chat model and not supported in the v1/completions endpoint. Did you mean to "
    "use v1/chat/completions?"
)
NOT_A_COMPLETIONS_MODEL_MESSAGE = "This model is not supported in the v1/completions endpoint."


def unrecognized_argument(name: str) -> APIError:
    """An argument the chat or completions endpoint does not know: named in the message
    only (every capture has `param` null)."""
    return invalid(f"Unrecognized request argument supplied: {excerpt(name)}")


def not_a_chat_model() -> APIError:
    """/v1/chat/completions with a model that is not a chat model (a completions model,
    and any other kind)."""
    return APIError(404, NOT_A_CHAT_MODEL_MESSAGE, param="model")


def chat_model_on_completions() -> APIError:
    return APIError(404, CHAT_MODEL_ON_COMPLETIONS_MESSAGE, param="model")


def not_a_completions_model() -> APIError:
    """/v1/completions with a model of neither endpoint (embeddings, audio, images)."""
    return APIError(404, NOT_A_COMPLETIONS_MODEL_MESSAGE, param="model")


def stream_options_without_stream() -> APIError:
    return invalid(
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        "stream_options",
    )


def tool_message_without_tool_calls(index: int) -> APIError:
    """A `tool` message that answers no `tool_calls` (the newest capture spells
    "preceeding"; `param` has a dot before the bracket)."""
    return invalid(
        "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
        "message with 'tool_calls'.",
        f"messages.[{index}].role",
    )


def tool_calls_without_answers(index: int, call_ids: list[str]) -> APIError:
    """The assistant message at `index` made calls that no `tool` message answers."""
    return invalid(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + excerpt(", ".join(excerpt(call_id) for call_id in call_ids), MAX_LISTED_CHARS),
        f"messages.[{index}].role",
    )


# --- fine-tuning jobs (branch jobs) --------------------------------------------------------


def unknown_hyperparameter(name: str, value: object) -> APIError:
    """A key `hyperparameters` does not have, worded as the real API words it (and naming
    the key alone as the param): "invalid nepochs: 2, extra inputs are not permitted"."""
    shown = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    return invalid(f"invalid {name}: {shown}, extra inputs are not permitted", name)


# --- structure: JSON types in the API's words (the one table) ---------------------------------

# "Invalid type for 'n_epochs': expected an integer, but got a decimal instead.";
# "Invalid type for 'temperature': expected a decimal, but got a string instead." (captures in
# docs/fidelity.md). Keys are JSON Schema's type names.
JSON_TYPE_NAMES = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a decimal",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}


def json_type(value: object) -> str:
    """The JSON Schema type of a parsed JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_type_name(value: object) -> str:
    """What the API calls a value's type: ``got a decimal``, ``got an array``, ..."""
    return JSON_TYPE_NAMES[json_type(value)]


# --- reliability: limits, excerpts, the disk ---------------------------------------------

EXCERPT_CHARS = 64
# A model's name is quoted whole up to this length (a fine-tuned model's name, with its
# organization and suffix, is well within it), a longer one as an excerpt.
MODEL_NAME_CHARS = 256
# No message quotes more of a request than this (a value, a name, a path): the excerpt.
MAX_MESSAGE_CHARS = 2_000
DISK_FULL_STATUS = 507


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text`, or its head and how long it was: what a message may quote of a client's
    input."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def value_text(value: object) -> str:
    """A value as JSON writes it (`0`, not `0.0`; `true`, not `True`; an integer too long
    to quote, in short), a string as an excerpt."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, int):
        digits = str(value)
        return digits if len(digits) <= 24 else f"{digits[:12]}... ({len(digits)} digits)"
    if isinstance(value, float):
        return repr(value)
    return excerpt(str(value))


def content_too_large(limit: int, read: int) -> APIError:
    """What the real API's edge answers for a body over its limit (413, type
    server_error: captures of the audio endpoints, 25 MiB)."""
    return APIError(
        413,
        f"Maximum content size limit ({limit}) exceeded ({read} bytes read)",
        type=SERVER_ERROR,
    )


def body_timeout(seconds: float) -> APIError:
    return APIError(
        408,
        f"Request timed out: no part of the request body arrived for {seconds:g} seconds.",
        type=SERVER_ERROR,
        code="request_timeout",
        headers={"connection": "close"},
    )


def disk_full() -> APIError:
    """A write the mock's disk has no room for. Not retried by the SDK (`x-should-retry`):
    space comes back only when files are deleted (`DELETE /v1/files/{id}` works on a full
    disk) or the disk is freed."""
    return APIError(
        DISK_FULL_STATUS,
        "The mock server's disk is full (no space left on device), so nothing was stored. "
        "Delete files (DELETE /v1/files/{file_id}) or free disk space, then try again.",
        type=SERVER_ERROR,
        code="insufficient_storage",
        headers={"x-should-retry": "false"},
    )


def object_too_many_properties(param: str, maximum: int, got: int) -> APIError:
    return invalid(
        f"Invalid '{param}': too many properties. Expected an object with at most {maximum} "
        f"properties, but got an object with {got} properties instead.",
        param,
        "object_above_max_properties",
    )


# --- polish: excerpts of lists, the fine-tuning endpoint's unknown arguments ----------------

# A list of the client's values in a message (each value an excerpt) is cut at this length.
MAX_LISTED_CHARS = 512


def unknown_job_argument(name: str, value: object) -> APIError:
    """A top-level argument `POST /v1/fine_tuning/jobs` does not know: worded as the same
    endpoint words an unknown hyperparameter (its newest capture, 2024-09), the 2023
    captures of a top-level one being of the older wording ("invalid batch_size, extra
    fields not permitted")."""
    shown = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    return unknown_hyperparameter(excerpt(name), excerpt(shown))


# -- training: limits, integrations (the training branch's section) -----------------------


def daily_rate_limit_exceeded(limit: int, model: str) -> APIError:
    """One job more than an organization may create on a model in a day: the real 429
    (johny-b/llmcomp#58, 2026-02-12; the number and the model as the real one names them)."""
    return APIError(
        429,
        "This fine-tune request has been rate-limited. Your organization has reached the "
        f"maximum of {limit} fine-tuning requests per day for the model '{model}'.",
        code="daily_rate_limit_exceeded",
    )


WANDB_NOT_REGISTERED_MESSAGE = (
    "The Weights and Biases integration cannot be enabled: your organization has no Weights "
    "and Biases API key registered. Register one in your organization's settings before "
    "enabling the integration on a fine-tuning job."
)


def wandb_not_registered() -> APIError:
    """A job enables the W&B integration for an organization without W&B credentials (the
    guide: "will result in an error"; no capture of the wording was found)."""
    return invalid(WANDB_NOT_REGISTERED_MESSAGE, "integrations")


# --- platform: projects, admin keys, checkpoint permissions ---------------------------------

SCOPE_HINT = (
    "Check that you have the correct role in your organization (Reader, Writer, Owner) and "
    "project (Member, Owner), and if you're using a restricted API key, that it has the "
    "necessary scopes."
)


def mismatched_project() -> APIError:
    """An `OpenAI-Project` header naming a project the key cannot act in."""
    return APIError(
        401, "OpenAI-Project header should match project for API key", code="mismatched_project"
    )


def missing_scopes(scope: str) -> APIError:
    """A key without the scope an operation needs: a non-admin key on an admin endpoint
    (`api.fine_tuning.checkpoints.write`), an admin key on any other (`model.request`)."""
    return APIError(
        401,
        f"You have insufficient permissions for this operation. Missing scopes: {scope}. "
        + SCOPE_HINT,
    )


def model_not_accessible(model: str) -> APIError:
    """A model the key cannot see (another organization's, and not granted to its
    project), as calling it answers."""
    return APIError(
        404,
        f"The model `{excerpt(model, MODEL_NAME_CHARS)}` does not exist or you do not have "
        "access to it.",
        code="model_not_found",
    )


def owning_project(project_id: str) -> APIError:
    """A checkpoint permission naming the project the model was trained in (the
    terraform-provider-openai capture: 400, this message; param and code not shown)."""
    return invalid(f"Cannot modify checkpoint permissions for the owning project: {project_id}")


def permission_not_found(permission_id: str) -> APIError:
    return APIError(
        404,
        f"No such checkpoint permission: {excerpt(permission_id)}",
        param="permission_id",
    )
