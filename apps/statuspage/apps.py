from django.apps import AppConfig


class StatuspageConfig(AppConfig):
    name = "apps.statuspage"
    label = "statuspage"
    verbose_name = "Status page"

    def ready(self) -> None:
        from apps.statuspage import invalidation

        invalidation.connect()
