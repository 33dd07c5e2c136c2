"""The tokens in a subscriber's links, signed and bound to one tenant.

A subscriber's `manage_token` (256 random bits) is never put in a URL as it is: links carry
`manage_token_sign(token)`, the token and an HMAC of it (Django's signing, keyed by
SECRET_KEY) under a salt that names the tenant's schema. A link copied to another tenant's
host fails the signature there, even if that tenant had a subscriber with the same token.
Manage and unsubscribe links do not expire (an unsubscribe link must work in old mail).

The confirmation link of a new subscription adds `?sig=`: a timestamped signature of the
subscriber, its token and its e-mail address, valid for `CONFIRM_MAX_AGE`.
"""

from __future__ import annotations

from datetime import timedelta

from django.core import signing

from apps.core.tenancy import current_schema
from apps.subscribers.models import Subscriber

CONFIRM_MAX_AGE = timedelta(days=7)
# "." is neither in the tokens (urlsafe base64) nor in the signatures, and reads well in a URL.
_SEP = "."


def _salt(purpose: str, schema: str | None) -> str:
    return f"clarion.subscribers.{purpose}:{schema or current_schema()}"


def manage_token_sign(token: str, *, schema: str | None = None) -> str:
    """`token` with its signature for the tenant `schema` (default: the current one): what
    the `/subscriptions/<token>/` and `/unsubscribe/<token>/` links carry."""
    return signing.Signer(salt=_salt("manage", schema), sep=_SEP).sign(token)


def manage_token_unsign(signed: str, *, schema: str | None = None) -> str | None:
    """The manage token in a link of tenant `schema`, or None if the link was not signed
    for that tenant (tampered, truncated, or from another tenant)."""
    try:
        return signing.Signer(salt=_salt("manage", schema), sep=_SEP).unsign(signed)
    except signing.BadSignature:
        return None


def _confirm_value(subscriber: Subscriber) -> str:
    return f"{subscriber.pk}:{subscriber.manage_token}:{subscriber.email}"


def _confirm_signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_salt("confirm", None))


def confirm_signature(subscriber: Subscriber) -> str:
    """The `sig` of the subscriber's confirmation link (a timestamp and an HMAC)."""
    value = _confirm_value(subscriber)
    return _confirm_signer().sign(value)[len(value) + 1 :]


def confirm_signature_check(subscriber: Subscriber, signature: str) -> None:
    """Raise `signing.SignatureExpired` if the confirmation link is older than
    CONFIRM_MAX_AGE, `signing.BadSignature` if it was not made for this subscriber (and
    address) on this tenant; return if it is good."""
    value = _confirm_value(subscriber)
    _confirm_signer().unsign(f"{value}:{signature}", max_age=CONFIRM_MAX_AGE)
