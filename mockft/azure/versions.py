"""Azure OpenAI's `api-version` query parameter: which values each surface accepts.

PURE. The classic data plane (`/openai/...`) requires a dated version, and one that has the
operation: fine-tuning (files, uploads, jobs, models) arrived with the authoring versions
listed in FINE_TUNING, calling a deployment with the inference versions in INFERENCE. A
missing or unknown version finds no operation, so Azure answers 404 "Resource not found" as
for an unknown path. The v1 data plane (`/openai/v1/...`) needs no version; it takes `v1` or
`preview`, and refuses any other value (a dated one included) with 400 "API version not
supported". Sources: Azure/azure-rest-api-specs,
specification/cognitiveservices/data-plane/AzureOpenAI/{authoring,inference}/*; captures in
docs/fidelity.md ("Azure").
"""

from __future__ import annotations

from mockft.azure import errors

PARAM = "api-version"

# From 2023-12-01-preview every data-plane version has both fine-tuning and inference.
_BOTH = frozenset(
    {
        "2023-12-01-preview",
        "2024-02-01",
        "2024-02-15-preview",
        "2024-03-01-preview",
        "2024-04-01-preview",
        "2024-05-01-preview",
        "2024-06-01",
        "2024-07-01-preview",
        "2024-08-01-preview",
        "2024-09-01-preview",
        "2024-10-01-preview",
        "2024-10-21",
        "2024-12-01-preview",
        "2025-01-01-preview",
        "2025-02-01-preview",
        "2025-03-01-preview",
        "2025-04-01-preview",
    }
)
FINE_TUNING: frozenset[str] = _BOTH | {"2023-09-15-preview", "2023-10-01-preview"}
INFERENCE: frozenset[str] = _BOTH | {
    "2022-12-01",
    "2023-03-15-preview",
    "2023-05-15",
    "2023-06-01-preview",
    "2023-07-01-preview",
    "2023-08-01-preview",
    "2023-09-01-preview",
}
V1: frozenset[str] = frozenset({"v1", "preview"})
# The newest generally available version with both fine-tuning and inference.
LATEST_GA = "2024-10-21"


def require(version: str | None, supported: frozenset[str]) -> None:
    """A classic route: a missing or unsupported version finds no operation."""
    if version is None or version not in supported:
        raise errors.resource_not_found()


def require_v1(version: str | None) -> None:
    """A v1 route: no version, `v1` or `preview`."""
    if version is not None and version not in V1:
        raise errors.api_version_not_supported()
