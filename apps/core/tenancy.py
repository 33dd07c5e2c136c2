"""Typed access to django-tenants' view of the database connection."""

from __future__ import annotations

from typing import Any, Protocol, cast

from django.db import connection


class TenantConnection(Protocol):
    schema_name: str
    tenant: Any

    def set_schema_to_public(self) -> None: ...

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None: ...


def tenant_connection() -> TenantConnection:
    return cast(TenantConnection, connection)


def current_schema() -> str:
    """The PostgreSQL schema the default connection is using now."""
    return tenant_connection().schema_name


def current_tenant() -> Any:
    """The tenant the default connection is using now (set by the host middleware or a
    tenant-aware task)."""
    return tenant_connection().tenant
