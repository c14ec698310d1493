"""Azure's credentials: a resource key in the `api-key` header, or a Microsoft Entra token
as `Authorization: Bearer`.

With no keys configured any key and any token are accepted (the default organization, as on
`/v1`). With keys configured, a configured key works in either header; anything else is
refused with Azure's wording: a key as the invalid-key 401, a token as the gateway's 401.
"""

from __future__ import annotations

from collections.abc import Mapping

from mockft.auth import KeyRing, Organization
from mockft.azure import errors
from mockft.errors import APIError

API_KEY_HEADER = "api-key"
AUTHORIZATION_HEADER = "authorization"
BEARER = "bearer"


def organization(keys: KeyRing, headers: Mapping[str, str]) -> Organization:
    """The organization the request's credentials belong to; `headers` is case-insensitive
    (Starlette's `Headers`). The `api-key` header wins when both are sent (openai 1.x's
    `AzureOpenAI` sends the key in both)."""
    api_key = (headers.get(API_KEY_HEADER) or "").strip()
    if api_key:
        return _lookup(keys, api_key) or _raise(errors.access_denied())
    scheme, _, token = (headers.get(AUTHORIZATION_HEADER) or "").partition(" ")
    if scheme.lower() == BEARER and token.strip():
        return _lookup(keys, token.strip()) or _raise(errors.token_rejected())
    if scheme:
        raise errors.token_rejected()
    raise errors.access_denied()


def _lookup(keys: KeyRing, key: str) -> Organization | None:
    try:
        return keys.authenticate(f"Bearer {key}")
    except APIError:
        return None


def _raise(error: APIError) -> Organization:
    raise error
