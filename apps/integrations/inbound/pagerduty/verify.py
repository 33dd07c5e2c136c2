"""PagerDuty v3 signs each delivery: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw
body with the subscription's secret>`, several comma-separated while a secret is rotated.
The scheme carries no timestamp (replays are stopped by the event id instead)."""

from __future__ import annotations

from apps.integrations.inbound.auth import any_matches, hmac_sha256
from apps.integrations.inbound.base import Headers, SignatureInvalid, header

HEADER = "X-PagerDuty-Signature"


def verify(*, headers: Headers, body: bytes, secret: str, now: float) -> None:
    value = header(headers, HEADER)
    if not value:
        raise SignatureInvalid(
            f"Missing {HEADER} header: only signed PagerDuty v3 webhooks are accepted.",
            code="signature_missing",
        )
    signatures = [part.strip()[3:] for part in value.split(",") if part.strip().startswith("v1=")]
    if not signatures:
        raise SignatureInvalid(f"{HEADER} holds no v1 signature.")
    expected = hmac_sha256(secret.encode(), body).hex()
    if not any_matches(signatures, expected):
        raise SignatureInvalid(
            f"{HEADER} does not match the body: paste the subscription's signing secret into "
            "the integration (PagerDuty shows it once, when the subscription is created)."
        )
