"""Per-tenant periodic work.

Celery beat runs one public `core.tick` a minute; it queues one `core.tenant_tick` per
tenant, which runs every job registered here inside that tenant's schema. Apps add a job by
listing its dotted path in `CLARION_TENANT_PERIODIC_JOBS`; a job is a callable taking no
arguments that must tolerate running twice (ticks can overlap or be redelivered).
"""

from __future__ import annotations

from collections.abc import Callable

from apps.core.registry import Registry

TenantJob = Callable[[], object]

tenant_jobs: Registry[TenantJob] = Registry("per-tenant periodic job")
