from django.apps import AppConfig
from django.conf import settings
from django.utils.module_loading import import_string


class CommunicationsConfig(AppConfig):
    name = "apps.communications"
    label = "communications"
    verbose_name = "Communications"

    def ready(self) -> None:
        from apps.communications import handlers
        from apps.communications.channels.base import channels

        handlers.connect()
        for path in settings.CLARION_CHANNELS:
            implementation = import_string(path)()
            channels.register(implementation.key, implementation)
