"""Checks the sources' `verify.py` share: bearer tokens, a shared secret header, HMAC
signatures and timestamps. Every comparison is constant-time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable

from apps.integrations.inbound.base import TOLERANCE_SECONDS, Headers, SignatureInvalid, header

SECRET_HEADER = "X-Clarion-Secret"  # noqa: S105 (a header name)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def check_bearer(headers: Headers, secret: str, *, tool: str) -> None:
    """`Authorization: Bearer <secret>`, or HTTP basic auth whose password is the secret
    (Alertmanager's and Grafana's other option)."""
    value = header(headers, "Authorization")
    if not value:
        raise SignatureInvalid(
            f"Missing Authorization header: set {tool}'s webhook authorization to "
            "'Bearer <the integration's secret>'.",
            code="signature_missing",
        )
    scheme, _, credentials = value.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and _same(credentials, secret):
        return
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if _same(decoded.partition(":")[2], secret):
            return
    raise SignatureInvalid(
        f"The Authorization header does not carry this integration's secret: check the "
        f"bearer token configured in {tool}."
    )


def check_shared_secret(headers: Headers, secret: str, *, tool: str) -> None:
    """The secret in the `X-Clarion-Secret` header (or as `Authorization: Bearer`)."""
    value = header(headers, SECRET_HEADER)
    if value:
        if _same(value, secret):
            return
        raise SignatureInvalid(
            f"The {SECRET_HEADER} header does not match this integration's secret: check the "
            f"custom header configured in {tool}."
        )
    if header(headers, "Authorization"):
        check_bearer(headers, secret, tool=tool)
        return
    raise SignatureInvalid(
        f"Missing {SECRET_HEADER} header: add it to {tool}'s webhook with the integration's "
        "secret as its value.",
        code="signature_missing",
    )


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def any_matches(candidates: Iterable[str], expected: str) -> bool:
    """True when one of the candidate signatures equals `expected` (all are compared)."""
    found = False
    for candidate in candidates:
        found |= _same(candidate.strip(), expected)
    return found


def check_timestamp(value: str, now: float, *, name: str) -> None:
    """A Unix timestamp (seconds) within the tolerance of `now`, else a stale signature."""
    if not value:
        raise SignatureInvalid(f"Missing {name} header.", code="signature_missing")
    try:
        sent = float(value)
    except ValueError:
        raise SignatureInvalid(
            f"The {name} header is not a Unix timestamp: {value[:40]!r}."
        ) from None
    if abs(now - sent) > TOLERANCE_SECONDS:
        raise SignatureInvalid(
            f"The request was signed {abs(now - sent):.0f} s away from now (more than "
            f"{TOLERANCE_SECONDS // 60} minutes): a replay, or the sender's clock is wrong.",
            code="signature_stale",
        )
