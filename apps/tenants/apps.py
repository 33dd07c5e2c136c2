from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "apps.tenants"
    label = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.tenants.models import Domain, Tenant
        from apps.tenants.selectors import host_cache_clear

        def clear(**kwargs: object) -> None:
            host_cache_clear()

        for model in (Tenant, Domain):
            post_save.connect(clear, sender=model, weak=False, dispatch_uid=f"hosts-{model}")
            post_delete.connect(clear, sender=model, weak=False, dispatch_uid=f"hosts-d-{model}")
