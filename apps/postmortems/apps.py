from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "apps.postmortems"
    label = "postmortems"
    verbose_name = "SLA credits and post-incident reviews"

    def ready(self) -> None:
        from apps.communications.context import recipient_context
        from apps.postmortems import handlers
        from apps.postmortems.recipients import sla_credit_values

        handlers.connect()
        recipient_context.register("sla_credit", sla_credit_values)
