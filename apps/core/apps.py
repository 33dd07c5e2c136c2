from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Clarion core"

    def ready(self) -> None:
        # Make Clarion's Celery app the current one, so @shared_task binds to it everywhere.
        import config.celery  # noqa: F401
        from apps.core.api import schema  # noqa: F401  (registers the OpenAPI auth scheme)
        from apps.core.periodic import tenant_jobs
        from apps.core.roles import roles_sync

        tenant_jobs.load(settings.CLARION_TENANT_PERIODIC_JOBS)
        # After auth has created the permissions of every migrated app in this schema.
        post_migrate.connect(
            lambda **kwargs: roles_sync(), weak=False, dispatch_uid="clarion.roles_sync"
        )
