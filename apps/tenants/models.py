"""Tenants and their domains: SHARED tables in the public schema."""

from __future__ import annotations

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from apps.tenants.choices import Plan, TenantKind
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


class Domain(DomainMixin):
    """A custom host name that serves a tenant (besides `<slug>.<CLARION_BASE_DOMAIN>`)."""

    class Meta:
        ordering = ("domain",)

    def __str__(self) -> str:
        return self.domain
