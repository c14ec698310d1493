"""Webhook signatures as OpenAI makes them: Standard Webhooks (standardwebhooks.com).

A delivery carries `webhook-id` (the message's id, the same on every retry),
`webhook-timestamp` (unix seconds of the attempt, wall-clock time: receivers refuse one more
than five minutes away from their own clock) and `webhook-signature`, `v1,` followed by the
base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` keyed with the bytes the
secret's base64 (after `whsec_`) decodes to. The official SDKs' `webhooks.unwrap()` and
`verify_signature()` check exactly this.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
SECRET_BYTES = 32
MAX_SECRET_LENGTH = 1024
WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"
TOLERANCE_SECONDS = 300  # what the SDKs allow between the timestamp and their clock


def new_secret(entropy: bytes) -> str:
    """A secret made of these bytes (`SECRET_BYTES` random ones, usually)."""
    return SECRET_PREFIX + base64.b64encode(entropy).decode()


def secret_ok(secret: str) -> bool:
    """`whsec_` + standard base64 of at least one byte (what the SDKs decode)."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > MAX_SECRET_LENGTH:
        return False
    try:
        return len(_key(secret)) > 0
    except (binascii.Error, ValueError):
        return False


def _key(secret: str) -> bytes:
    return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one attempt to deliver `body`."""
    return {
        WEBHOOK_ID: webhook_id,
        WEBHOOK_TIMESTAMP: str(timestamp),
        WEBHOOK_SIGNATURE: signature(secret, webhook_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """Whether `body` carries a valid signature by `secret` and a timestamp within
    `tolerance` of `now` (what a receiver checks; the SDKs do the same)."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        webhook_id = lower[WEBHOOK_ID]
        timestamp = int(lower[WEBHOOK_TIMESTAMP])
        given = lower[WEBHOOK_SIGNATURE].split()
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, webhook_id, timestamp, body)
    return any(hmac.compare_digest(expected, part) for part in given)
