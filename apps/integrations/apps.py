from django.apps import AppConfig
from django.conf import settings


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from apps.integrations import signals
        from apps.integrations.inbound.base import load_sources

        load_sources(settings.CLARION_INBOUND_SOURCES)
        signals.connect()
