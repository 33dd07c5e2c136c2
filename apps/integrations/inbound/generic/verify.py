"""Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-signature` holds
space-separated `v1,<base64 HMAC-SHA256>` of `"<webhook-id>.<webhook-timestamp>.<body>"`,
keyed with the base64-decoded secret after its `whsec_` prefix. Timestamps more than five
minutes from now are refused."""

from __future__ import annotations

import base64
import binascii

from apps.integrations.inbound.auth import any_matches, check_timestamp, hmac_sha256
from apps.integrations.inbound.base import Headers, SignatureInvalid, header

SECRET_PREFIX = "whsec_"  # noqa: S105 (the spec's prefix)


def secret_key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return secret.encode()


def verify(*, headers: Headers, body: bytes, secret: str, now: float) -> None:
    webhook_id = header(headers, "webhook-id")
    timestamp = header(headers, "webhook-timestamp")
    signature = header(headers, "webhook-signature")
    missing = [
        name
        for name, value in (
            ("webhook-id", webhook_id),
            ("webhook-timestamp", timestamp),
            ("webhook-signature", signature),
        )
        if not value
    ]
    if missing:
        raise SignatureInvalid(
            f"Missing {', '.join(missing)} header(s): sign requests per the Standard Webhooks "
            "spec with the integration's whsec_ secret.",
            code="signature_missing",
        )
    check_timestamp(timestamp, now, name="webhook-timestamp")
    message = f"{webhook_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac_sha256(secret_key(secret), message)).decode()
    candidates = [part.partition(",")[2] for part in signature.split() if part.startswith("v1,")]
    if not any_matches(candidates, expected):
        raise SignatureInvalid(
            "webhook-signature does not match: sign '<webhook-id>.<webhook-timestamp>.<body>' "
            "with HMAC-SHA256, keyed with the base64-decoded part of the whsec_ secret."
        )
