"""Tenant provisioning (public schema)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django_tenants.utils import (
    get_public_schema_name,
    schema_context,
    schema_exists,
    tenant_context,
)

from apps.core.audit import Actor, audit_record
from apps.core.exceptions import ValidationFailed
from apps.tenants.choices import Plan, TenantKind
from apps.tenants.models import Domain, Tenant
from apps.tenants.validators import schema_name_for, validate_hostname, validate_tenant_slug

TEMPLATE_SLUG = "clarion-template"


def _messages(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


def _validate_new_tenant(
    *,
    slug: str,
    name: str,
    plan: str,
    domain: str | None,
    admin_email: str | None,
    admin_password: str | None,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    try:
        validate_tenant_slug(slug)
    except ValidationError as exc:
        errors["slug"] = _messages(exc)
    else:
        if Tenant.objects.filter(slug=slug).exists():
            errors["slug"] = [f"A tenant with the slug {slug!r} already exists; choose another."]
        elif schema_exists(schema := schema_name_for(slug)):
            # No tenant owns it (an extension's schema, or one left behind by hand), and
            # django-tenants would silently adopt it as the new tenant's.
            errors["slug"] = [
                f"The slug {slug!r} would use the PostgreSQL schema {schema!r}, but a schema "
                f"{schema!r} already exists in the database: choose another slug, or have a "
                "database administrator drop that schema if nothing uses it."
            ]
    if not name.strip():
        errors["name"] = ["Give the tenant a name, e.g. 'Acme Inc.'."]
    if plan not in Plan.values:
        errors["plan"] = [f"Unknown plan {plan!r}: use one of {', '.join(Plan.values)}."]
    if domain:
        try:
            validate_hostname(domain)
        except ValidationError as exc:
            errors["domain"] = _messages(exc)
        else:
            base = settings.CLARION_BASE_DOMAIN
            if domain == base or domain.endswith("." + base):
                errors["domain"] = [
                    f"{domain!r} is under the base domain {base!r}, which routes by slug; "
                    "a custom domain must be outside it."
                ]
            elif Domain.objects.filter(domain=domain).exists():
                errors["domain"] = [f"The domain {domain!r} already serves another tenant."]
    if bool(admin_email) != bool(admin_password):
        errors["admin_email" if not admin_email else "admin_password"] = [
            "Give both the admin's e-mail and password, or neither."
        ]
    if admin_email:
        try:
            validate_email(admin_email)
        except ValidationError:
            errors["admin_email"] = [f"{admin_email!r} is not a valid e-mail address."]
    if admin_password:
        try:
            validate_password(admin_password)
        except ValidationError as exc:
            errors["admin_password"] = _messages(exc)
    return errors


def template_ensure() -> Tenant:
    """The template schema new tenants are cloned from, created by migrations if missing.

    It is a Tenant row so that `migrate_schemas` keeps it migrated with every other tenant.
    """
    template = Tenant.objects.filter(kind=TenantKind.TEMPLATE).first()
    if template is None:
        template = Tenant(
            slug=TEMPLATE_SLUG,
            name="Template for new tenants",
            kind=TenantKind.TEMPLATE,
            schema_name=settings.TENANT_BASE_SCHEMA,
        )
        template.save(verbosity=0)
    return template


def tenant_create(
    *,
    slug: str,
    name: str,
    plan: str = Plan.TEAM,
    domain: str | None = None,
    admin_email: str | None = None,
    admin_password: str | None = None,
    actor: Actor = None,
) -> Tenant:
    """Provision a tenant: its schema (cloned from the template), an optional custom domain
    and an optional first admin. All or nothing."""
    slug = slug.strip()
    domain = domain.strip().lower() if domain else None
    admin_email = admin_email.strip().lower() if admin_email else None
    errors = _validate_new_tenant(
        slug=slug,
        name=name,
        plan=plan,
        domain=domain,
        admin_email=admin_email,
        admin_password=admin_password,
    )
    if errors:
        raise ValidationFailed("The tenant cannot be created.", fields=errors)
    try:
        with schema_context(get_public_schema_name()), transaction.atomic():
            template_ensure()
            tenant = Tenant(
                slug=slug, name=name.strip(), plan=plan, schema_name=schema_name_for(slug)
            )
            tenant.save(verbosity=0)
            if domain:
                Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
            with tenant_context(tenant):
                if admin_email:
                    get_user_model().objects.create_superuser(admin_email, admin_password)
                audit_record(
                    actor=actor,
                    action="tenant.created",
                    obj=tenant,
                    details={"plan": plan, "domain": domain},
                )
    except IntegrityError as exc:  # a concurrent create of the same slug or domain
        raise ValidationFailed(
            "The tenant cannot be created: its slug or domain was taken meanwhile.",
            fields={"slug": [str(exc).splitlines()[0]]},
        ) from exc
    return tenant
