"""Tenants and their domains: SHARED tables in the public schema."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.postgresql_backend.base import is_valid_schema_name
from django_tenants.utils import get_creation_fakes_migrations, schema_exists

from apps.core.tenancy import tenant_connection
from apps.tenants.choices import Plan, TenantKind
from apps.tenants.cloning import schema_clone
from apps.tenants.validators import validate_tenant_slug


class Tenant(TenantMixin):
    """A company using Clarion. Its data lives in the PostgreSQL schema `schema_name`."""

    slug = models.SlugField(max_length=40, unique=True, validators=[validate_tenant_slug])
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.TEAM)
    kind = models.CharField(
        max_length=20, choices=TenantKind.choices, default=TenantKind.CUSTOMER, db_index=True
    )
    created = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    # Dropping a tenant's data is a deliberate act of `tenant_delete`, never a side effect.
    auto_drop_schema = False

    class Meta:
        ordering = ("slug",)

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def create_schema(
        self, check_if_exists: bool = False, sync_schema: bool = True, verbosity: int = 1
    ) -> bool:
        """Customer tenants are copied from the template schema (see apps.tenants.cloning);
        the template itself, and any tenant when no template exists, run the migrations."""
        # django-tenants checks the name in its create_schema, which the clone skips.
        # `tenant_create` has already refused such slugs with a message; this is the backstop.
        if not is_valid_schema_name(self.schema_name):
            raise ValidationError(f"{self.schema_name!r} cannot be a PostgreSQL schema name.")
        base = settings.TENANT_BASE_SCHEMA
        if (
            sync_schema
            and get_creation_fakes_migrations()
            and self.kind == TenantKind.CUSTOMER
            and not (check_if_exists and schema_exists(self.schema_name))
            and schema_exists(base)
        ):
            tenant_connection().set_schema_to_public()
            schema_clone(source=base, target=self.schema_name)
            return True
        return bool(super().create_schema(check_if_exists, sync_schema, verbosity))


class Domain(DomainMixin):
    """A custom host name that serves a tenant (besides `<slug>.<CLARION_BASE_DOMAIN>`)."""

    class Meta:
        ordering = ("domain",)

    def __str__(self) -> str:
        return self.domain
