"""Advisory locks of periodic jobs are per tenant: advisory locks are database-wide, and a
tenant's job must never make another tenant's job skip its turn."""

import psycopg
from django.db import connection, transaction

from apps.core.tenancy import tenant_xact_lock

TRY = "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))"


def other_session() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        dbname=db["NAME"],
    )


def test_a_job_lock_is_held_once_per_tenant(tenant_db) -> None:
    with transaction.atomic():
        assert tenant_xact_lock("sweep")
        with other_session() as other:
            # The same job of the same tenant, from another worker: taken.
            assert other.execute(TRY, ["clarion.sweep:test"]).fetchone() == (False,)
            # The same job of another tenant, and another job of this one: free.
            assert other.execute(TRY, ["clarion.sweep:other"]).fetchone() == (True,)
            assert other.execute(TRY, ["clarion.cadence:test"]).fetchone() == (True,)
