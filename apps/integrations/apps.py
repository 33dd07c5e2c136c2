from django.apps import AppConfig
from django.conf import settings


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from apps.integrations import signals, support
        from apps.integrations.inbound.base import load_sources
        from apps.integrations.selectors import helpdesk_ticket_stats
        from apps.postmortems.analytics import ticket_stats

        load_sources(settings.CLARION_INBOUND_SOURCES)
        signals.connect()
        support.connect()
        ticket_stats.register("helpdesk", helpdesk_ticket_stats)
