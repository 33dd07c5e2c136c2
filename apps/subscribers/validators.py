"""Contact details as people type them, checked and normalised.

Each function returns the normalised value or raises Django's ValidationError with a message
a person can act on, so the services, the admin forms and the public subscribe page share one
set of rules.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from email_validator import EmailNotValidError, validate_email

EMAIL_MAX = 254
PHONE_MAX = 16  # E.164: "+" and at most 15 digits
URL_MAX = 2000
EXTERNAL_KEY_MAX = 100

# Host names that only ever mean "this machine" or "this private network".
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet")
_EXTERNAL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")
_LOCALE = re.compile(r"([A-Za-z]{2,3})((?:[-_][A-Za-z0-9]{2,8})*)")


def normalize_email(value: str) -> str:
    """The address in lower case (domain normalised too), e.g. `Ann@Example.COM` ->
    `ann@example.com`. Deliverability (DNS) is not checked: bounces tell us later."""
    raw = value.strip()
    try:
        info = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(
            f"{raw!r} is not a valid e-mail address: {exc}", code="invalid_email"
        ) from exc
    normalized = info.normalized.lower()
    if len(normalized) > EMAIL_MAX:
        raise ValidationError(f"Use at most {EMAIL_MAX} characters.", code="invalid_email")
    return normalized


def normalize_phone(value: str) -> str:
    """A mobile or landline number in E.164 (`+14155550123`). It must be given in
    international format: `+` (or `00`) and the country code first."""
    raw = value.strip()
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    hint = "give it in international format, e.g. +14155550123"
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            f"{value.strip()!r} is not a phone number: {hint}.", code="invalid_phone"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            f"{value.strip()!r} is not a valid phone number for its country; {hint}.",
            code="invalid_phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `host` spells, in any notation a resolver accepts (`127.1`, `0x7f.0.0.1`,
    `2130706433` included), or None for a host name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            packed = socket.inet_aton(host)
        except OSError:
            return None
        address = ipaddress.IPv4Address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_private_host(host: str) -> bool:
    address = _ip_of(host)
    if address is not None:
        return not address.is_global or address.is_multicast
    return host == "localhost" or host.endswith(_PRIVATE_SUFFIXES) or "." not in host


def validate_webhook_url(
    value: str, *, https_only: bool = False, allow_private: bool | None = None
) -> str:
    """An http(s) URL that Clarion may POST to, trimmed.

    Outside DEBUG (or with `allow_private=False`) a URL that names a loopback, private,
    link-local or otherwise non-public address or host is refused, so that a subscriber
    cannot make Clarion call into its own network. The sender must check the *resolved*
    address again when it connects: a public name can still resolve to a private address.
    """
    url = value.strip()
    allow = settings.DEBUG if allow_private is None else allow_private
    schemes = ("https",) if https_only else ("http", "https")
    wanted = " or ".join(f"{s}://" for s in schemes)
    if len(url) > URL_MAX:
        raise ValidationError(f"Use at most {URL_MAX} characters.", code="invalid_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as exc:
        raise ValidationError(f"{url!r} is not a valid URL.", code="invalid_url") from exc
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise ValidationError(
            f"{url!r} is not a valid URL: it must start with {wanted} and name a host.",
            code="invalid_url",
        )
    if parts.username or parts.password:
        raise ValidationError(
            "Leave the user name and password out of the URL; the payload is signed instead.",
            code="invalid_url",
        )
    host = parts.hostname.rstrip(".").lower()
    if not allow and _is_private_host(host):
        raise ValidationError(
            f"{host} is not a public address; give a URL on the public internet.",
            code="private_url",
        )
    return url


def validate_external_key(value: str) -> str:
    """A customer's key in the tenant's own systems (used by the in-app banner and imports):
    letters, digits and . _ : @ -, starting with a letter or digit."""
    key = value.strip()
    if not key:
        raise ValidationError("Give the customer's key, e.g. its account id.", code="required")
    if len(key) > EXTERNAL_KEY_MAX:
        raise ValidationError(f"Use at most {EXTERNAL_KEY_MAX} characters.", code="max_length")
    if not _EXTERNAL_KEY.fullmatch(key):
        raise ValidationError(
            f"{key!r} is not a valid key: use letters, digits and . _ : @ - only.",
            code="invalid_key",
        )
    return key


def normalize_locale(value: str) -> str:
    """A BCP 47 language tag: `fr`, `en-US`, `pt-BR` (`en_us` becomes `en-US`)."""
    raw = value.strip()
    match = _LOCALE.fullmatch(raw)
    if match is None or len(raw) > 20:
        raise ValidationError(
            f"{raw!r} is not a language tag; use one such as en, fr or en-US.", code="invalid"
        )
    subtags = [s for s in re.split(r"[-_]", match.group(2)) if s]
    normalised = [match.group(1).lower()]
    normalised += [s.upper() if len(s) == 2 and s.isalpha() else s for s in subtags]
    return "-".join(normalised)
