"""What a tenant slug and a custom domain may look like."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django_tenants.utils import get_public_schema_name

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
# PostgreSQL refuses to create schemas named pg_* (its own: pg_catalog, pg_toast, pg_temp_N),
# and so does django-tenants (`django_tenants.postgresql_backend.base.is_valid_schema_name`).
RESERVED_SCHEMA_PREFIX = "pg_"
# Schemas in every PostgreSQL database. The public schema, the template new tenants are
# cloned from and django-tenants' extra search paths are added from settings.
SYSTEM_SCHEMAS = frozenset({"information_schema", "public"})
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
    schema = schema_name_for(value)
    if schema.startswith(RESERVED_SCHEMA_PREFIX):
        raise ValidationError(
            f"The slug {value!r} would use the PostgreSQL schema {schema!r}, and PostgreSQL "
            f"reserves schema names starting with {RESERVED_SCHEMA_PREFIX!r}: choose a slug that "
            f"does not start with 'pg-' (e.g. {value.replace('-', '', 1)!r}).",
            code="reserved_schema",
        )
    if schema in reserved_schema_names():
        raise ValidationError(
            f"The slug {value!r} would use the PostgreSQL schema {schema!r}, which PostgreSQL "
            "uses for itself or Clarion uses for the platform: choose another slug, such as the "
            "company's name.",
            code="reserved_schema",
        )


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


def reserved_schema_names() -> frozenset[str]:
    """Schemas no tenant may use, whether or not they exist yet in this database."""
    return SYSTEM_SCHEMAS | {
        get_public_schema_name(),
        settings.TENANT_BASE_SCHEMA,
        *getattr(settings, "PG_EXTRA_SEARCH_PATHS", ()),
    }


def schema_name_for(slug: str) -> str:
    """PostgreSQL schema of a tenant: its slug with underscores for hyphens."""
    return slug.replace("-", "_")
