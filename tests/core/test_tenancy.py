"""Advisory locks of periodic jobs are per tenant: advisory locks are database-wide, and a
tenant's job must never make another tenant's job skip its turn."""

from django.db import connections, transaction

from apps.core.tenancy import tenant_xact_lock

TRY = "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))"


def test_a_job_lock_is_held_once_per_tenant(tenant_db) -> None:
    with transaction.atomic():
        assert tenant_xact_lock("sweep")
        other = connections.create_connection("default")  # another worker's session
        try:
            with other.cursor() as cursor:
                # The same job of the same tenant: taken.
                cursor.execute(TRY, ["clarion.sweep:test"])
                assert cursor.fetchone() == (False,)
                # The same job of another tenant, and another job of this one: free.
                cursor.execute(TRY, ["clarion.sweep:other"])
                assert cursor.fetchone() == (True,)
                cursor.execute(TRY, ["clarion.cadence:test"])
                assert cursor.fetchone() == (True,)
        finally:
            other.close()
