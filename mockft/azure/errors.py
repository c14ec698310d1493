"""Azure's own error answers, worded as its front door words them.

Azure OpenAI answers routing, auth and deployment failures itself, before the OpenAI service
sees the request, and not in OpenAI's envelope: `{"error": {"code", "message"}}` (no `type`,
no `param`), or, when an Entra token is refused, a bare `{"statusCode", "message"}`. Errors
of the service underneath (a file that does not exist, a bad hyperparameter) keep OpenAI's
envelope. Each wording is cited in docs/fidelity.md ("Azure").
"""

from __future__ import annotations

from typing import Any

from mockft.errors import APIError

RESOURCE_NOT_FOUND = "Resource not found"
API_VERSION_NOT_SUPPORTED = "API version not supported"
DEPLOYMENT_NOT_FOUND_CODE = "DeploymentNotFound"
DEPLOYMENT_NOT_FOUND = (
    "The API deployment for this resource does not exist. If you created the deployment "
    "within the last 5 minutes, please wait a moment and try again."
)
ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API endpoint "
    "for your resource."
)
OPERATION_NOT_SUPPORTED_CODE = "OperationNotSupported"
OPERATION_NOT_SUPPORTED = (
    "The {operation} operation does not work with the specified model, {model}. Please choose "
    "different model and try again. You can learn more about which models can be used with "
    "each operation here: https://go.microsoft.com/fwlink/?linkid=2197993."
)
TOKEN_REJECTED = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired."
)


class AzureError(APIError):
    """`{"error": {"code": ..., "message": ...}}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message, code=code)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class GatewayError(APIError):
    """`{"statusCode": ..., "message": ...}`: the gateway's answer to a refused token."""

    def body(self) -> dict[str, Any]:
        return {"statusCode": self.status, "message": self.message}


def resource_not_found() -> AzureError:
    return AzureError(404, "404", RESOURCE_NOT_FOUND)


def api_version_not_supported() -> AzureError:
    return AzureError(400, "BadRequest", API_VERSION_NOT_SUPPORTED)


def deployment_not_found() -> AzureError:
    return AzureError(404, DEPLOYMENT_NOT_FOUND_CODE, DEPLOYMENT_NOT_FOUND)


def access_denied() -> AzureError:
    """A wrong (or missing) key."""
    return AzureError(401, "401", ACCESS_DENIED)


def token_rejected() -> GatewayError:
    """A bearer token that is not accepted (only when keys are configured)."""
    return GatewayError(401, TOKEN_REJECTED)


def operation_not_supported(operation: str, model: str) -> AzureError:
    """A deployment called for an operation its model does not serve (`chatCompletion` on
    an embeddings model, `completion` on a chat model)."""
    return AzureError(
        400,
        OPERATION_NOT_SUPPORTED_CODE,
        OPERATION_NOT_SUPPORTED.format(operation=operation, model=model),
    )
