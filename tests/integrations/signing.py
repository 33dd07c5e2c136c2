"""How each tool authenticates its webhooks, written from the vendors' documentation
(independently of Clarion's verifiers), to sign the requests the tests send."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def bearer(secret: str) -> dict[str, str]:
    """Alertmanager (http_config.authorization) and Grafana (Authorization header)."""
    return {"Authorization": f"Bearer {secret}"}


def shared_header(secret: str) -> dict[str, str]:
    """Datadog's and New Relic's custom header."""
    return {"X-Clarion-Secret": secret}


def pagerduty(secret: str, body: bytes, *, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """`X-PagerDuty-Signature: v1=<hex HMAC-SHA256>` (several, comma-separated, while the
    subscription's secret rotates)."""
    signatures = [*extra, f"v1={hmac_hex(secret, body)}"]
    return {"X-PagerDuty-Signature": ",".join(signatures)}


def sentry(secret: str, body: bytes, *, timestamp: float | None = None) -> dict[str, str]:
    """`Sentry-Hook-Signature`: hex HMAC-SHA256 of the body with the Client Secret."""
    return {
        "Sentry-Hook-Signature": hmac_hex(secret, body),
        "Sentry-Hook-Timestamp": str(int(time.time() if timestamp is None else timestamp)),
    }


def standard_webhooks(
    secret: str, body: bytes, *, msg_id: str | None = None, timestamp: float | None = None
) -> dict[str, str]:
    """Standard Webhooks: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the
    base64-decoded part of `whsec_...`."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = str(int(time.time() if timestamp is None else timestamp))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": ts,
        "webhook-signature": f"v1,{base64.b64encode(digest).decode()}",
    }
