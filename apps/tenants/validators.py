"""What a tenant slug and a custom domain may look like."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
# Host labels Clarion or the operator may need for themselves.
RESERVED_SLUGS = frozenset(
    {
        "public",
        "www",
        "admin",
        "api",
        "app",
        "static",
        "media",
        "status",
        "mail",
        "smtp",
        "hooks",
        "clarion",
        "clarion-template",
        "template",
        "platform",
        "localhost",
    }
)
HOST_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def validate_tenant_slug(value: str) -> None:
    if not SLUG_RE.match(value) or "--" in value:
        raise ValidationError(
            f"{value!r} is not a valid tenant slug: use 2-40 lowercase letters, digits and "
            "single hyphens, starting with a letter and not ending with a hyphen (e.g. 'acme').",
            code="invalid_slug",
        )
    if value in RESERVED_SLUGS:
        raise ValidationError(f"The slug {value!r} is reserved; choose another.", code="reserved")


def validate_hostname(value: str) -> None:
    labels = value.split(".")
    if (
        len(value) > 253
        or len(labels) < 2
        or not all(HOST_LABEL_RE.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ValidationError(
            f"{value!r} is not a valid host name: give a bare host such as status.example.com "
            "(lowercase, no scheme, port or path).",
            code="invalid_host",
        )


def schema_name_for(slug: str) -> str:
    """PostgreSQL schema of a tenant: its slug with underscores for hyphens."""
    return slug.replace("-", "_")
