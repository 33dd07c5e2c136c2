"""Reads of the tenant registry (public schema)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from apps.tenants.choices import TenantKind
from apps.tenants.models import Domain, Tenant


def tenants_active() -> QuerySet[Tenant]:
    """Customer tenants: not the public schema, not the template."""
    return Tenant.objects.filter(kind=TenantKind.CUSTOMER)


def tenant_schemas_active() -> QuerySet[Tenant, str]:
    return tenants_active().order_by("schema_name").values_list("schema_name", flat=True)


def tenant_for_host(hostname: str) -> Tenant | None:
    """The tenant a request for `hostname` is for: the platform itself on the base domain,
    a tenant on `<slug>.<base domain>` or on one of its custom domains, else None."""
    hostname = hostname.lower().rstrip(".")
    base = settings.CLARION_BASE_DOMAIN
    if hostname == base:
        return Tenant.objects.filter(kind=TenantKind.PLATFORM).first()
    if hostname.endswith("." + base):
        slug = hostname[: -len(base) - 1]
        if "." not in slug:
            return tenants_active().filter(slug=slug).first()
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    if domain is None or domain.tenant.kind != TenantKind.CUSTOMER:
        return None
    return domain.tenant


def tenant_url(tenant: Tenant, *, port: int | None = None, scheme: str = "http") -> str:
    host = f"{tenant.slug}.{settings.CLARION_BASE_DOMAIN}"
    return f"{scheme}://{host}{f':{port}' if port else ''}/"
