"""Typed access to django-tenants' view of the database connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


def tenant_lock_name(name: str) -> str:
    """The key of the current tenant's advisory lock `name` (hashed by PostgreSQL with
    `hashtextextended(key, 0)`). Advisory locks are database-wide, so the schema is part of
    the key: tenants never wait for each other."""
    return f"clarion.{name}:{current_schema()}"


def tenant_xact_lock(name: str) -> bool:
    """Take the transaction-scoped PostgreSQL advisory lock `name` of the current tenant, or
    return False when another transaction holds it (one periodic job at a time per tenant)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [tenant_lock_name(name)]
        )
        row = cursor.fetchone()
    return bool(row and row[0])


@contextmanager
def tenant_session_lock(name: str, *, wait: bool) -> Iterator[bool]:
    """The current tenant's session-level advisory lock `name` for the block (for work that
    commits as it goes, so a transaction-scoped lock would not span it). With `wait`, wait
    for it; without, yield False at once when another session holds it. Released at the
    end of the block, and only if taken."""
    key = tenant_lock_name(name)
    take = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {take}(hashtextextended(%s, 0))", [key])
        row = cursor.fetchone()
    acquired = wait or bool(row and row[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
