"""Reads of the tenant registry (public schema)."""

from __future__ import annotations

import copy
import time

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


# Host -> tenant, per process: every request needs it, and it rarely changes. Saving a tenant
# or domain clears it in the saving process; other processes see the change within the TTL.
HOST_TTL_SECONDS = 30.0
UNKNOWN_HOST_TTL_SECONDS = 5.0
_host_cache: dict[str, tuple[Tenant | None, float]] = {}


def tenant_for_host_cached(hostname: str) -> Tenant | None:
    """`tenant_for_host`, remembered for a while; each caller gets its own copy."""
    now = time.monotonic()
    hit = _host_cache.get(hostname)
    if hit is None or hit[1] <= now:
        tenant = tenant_for_host(hostname)
        ttl = HOST_TTL_SECONDS if tenant is not None else UNKNOWN_HOST_TTL_SECONDS
        hit = (tenant, now + ttl)
        _host_cache[hostname] = hit
    return copy.copy(hit[0]) if hit[0] is not None else None


def schema_for_host_if_known(hostname: str) -> str | None:
    """The customer schema behind `hostname` if this process has it cached; never queries."""
    hit = _host_cache.get(hostname)
    if hit is None or hit[0] is None or hit[1] <= time.monotonic():
        return None
    return hit[0].schema_name if hit[0].kind == TenantKind.CUSTOMER else None


def host_cache_clear() -> None:
    _host_cache.clear()


def tenant_url(tenant: Tenant, *, port: int | None = None, scheme: str = "http") -> str:
    host = f"{tenant.slug}.{settings.CLARION_BASE_DOMAIN}"
    return f"{scheme}://{host}{f':{port}' if port else ''}/"
