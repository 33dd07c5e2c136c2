"""The periodic heartbeat: one public tick a minute fans out to one tick per tenant."""

from __future__ import annotations

import logging

from celery import shared_task
from django_tenants.utils import schema_context

from apps.core.periodic import tenant_jobs
from apps.core.tenancy import current_schema
from apps.tenants.selectors import tenant_schemas_active

logger = logging.getLogger(__name__)


@shared_task(name="core.tick")
def tick() -> int:
    """Public schema: queue `core.tenant_tick` in every active tenant's schema."""
    schemas = list(tenant_schemas_active())
    for schema in schemas:
        with schema_context(schema):
            tenant_tick.delay()  # the tenant's schema travels in the task headers
    return len(schemas)


@shared_task(name="core.tenant_tick")
def tenant_tick() -> list[str]:
    """Tenant schema: run every registered per-tenant periodic job.

    One job failing does not stop the others; the failure is logged with its traceback and
    the job runs again on the next tick.
    """
    ran = []
    for name, job in tenant_jobs.items():
        try:
            job()
        except Exception:
            logger.exception("periodic job %s failed in schema %s", name, current_schema())
        else:
            ran.append(name)
    return ran
