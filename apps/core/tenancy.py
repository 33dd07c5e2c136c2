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


def tenant_xact_lock(name: str) -> bool:
    """Take the transaction-scoped PostgreSQL advisory lock `name` of the current tenant, or
    return False when another transaction holds it (one periodic job at a time per tenant).
    Advisory locks are database-wide, so the schema is part of the key: tenants never
    wait for each other."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"clarion.{name}:{current_schema()}"],
        )
        row = cursor.fetchone()
    return bool(row and row[0])
