"""Routes each request to its tenant's schema by host name."""

from __future__ import annotations

from typing import Any

from django_tenants.middleware.main import TenantMainMiddleware

from apps.tenants.models import Tenant
from apps.tenants.selectors import tenant_for_host_cached


class TenantHostMiddleware(TenantMainMiddleware):
    """`<slug>.<CLARION_BASE_DOMAIN>` and custom domains reach a tenant; the base domain
    reaches the platform (public schema); anything else is a 404."""

    def get_tenant(self, domain_model: Any, hostname: str) -> Tenant:
        tenant = tenant_for_host_cached(hostname.lower().rstrip("."))
        if tenant is None:
            raise domain_model.DoesNotExist(hostname)
        return tenant
