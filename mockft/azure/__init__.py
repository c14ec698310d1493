"""The Azure OpenAI flavour of the same service: `AzureOpenAI` clients work unchanged.

- `versions`: the `api-version` each data plane accepts (PURE).
- `errors`: Azure's own error bodies and wordings.
- `auth`: the `api-key` header and Microsoft Entra bearer tokens.
- `shapes`: Azure's view of the service's objects (PURE).
- `deployments`: deployments, stored per organization, and `--azure-auto-deploy`.
- `routes`: `/openai/...`, `/openai/v1/...` and the `/mockft/azure/deployments` stand-in.

docs/azure.md is the user's guide; docs/fidelity.md ("Azure") the evidence.
"""

from __future__ import annotations

from mockft.azure.routes import routes

__all__ = ["routes"]
