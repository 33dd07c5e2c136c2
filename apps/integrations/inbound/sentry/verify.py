"""Sentry signs each webhook: `Sentry-Hook-Signature` is the hex HMAC-SHA256 of the raw body
with the integration's Client Secret, `Sentry-Hook-Timestamp` the Unix time it was sent.
Deliveries more than five minutes away from now are refused as replays."""

from __future__ import annotations

from apps.integrations.inbound.auth import any_matches, check_timestamp, hmac_sha256
from apps.integrations.inbound.base import Headers, SignatureInvalid, header

HEADER = "Sentry-Hook-Signature"


def verify(*, headers: Headers, body: bytes, secret: str, now: float) -> None:
    signature = header(headers, HEADER)
    if not signature:
        raise SignatureInvalid(
            f"Missing {HEADER} header: only signed Sentry integration webhooks are accepted.",
            code="signature_missing",
        )
    expected = hmac_sha256(secret.encode(), body).hex()
    if not any_matches([signature], expected):
        raise SignatureInvalid(
            f"{HEADER} does not match the body: paste the Sentry integration's Client Secret "
            "into the integration."
        )
    check_timestamp(header(headers, "Sentry-Hook-Timestamp"), now, name="Sentry-Hook-Timestamp")
