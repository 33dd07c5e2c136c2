from typing import Any

from django.apps import AppConfig, apps
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
        from apps.core.demo import demo_seeders
        from apps.core.periodic import tenant_jobs
        from apps.core.roles import roles_sync

        tenant_jobs.load(settings.CLARION_TENANT_PERIODIC_JOBS)
        demo_seeders.load(settings.CLARION_DEMO_SEEDERS)
        # post_migrate is sent once per app, and auth creates each app's permissions on its
        # own signal: sync the roles once, on the last app's, when every permission exists.
        last_app = [c for c in apps.get_app_configs() if c.models_module is not None][-1]

        def sync_roles_after_last_app(app_config: AppConfig, **kwargs: Any) -> None:
            if app_config is last_app:
                roles_sync()

        post_migrate.connect(
            sync_roles_after_last_app, weak=False, dispatch_uid="clarion.roles_sync"
        )
