"""Write use-cases of the integrations app."""

from apps.integrations.services.inbound import (
    Received,
    inbound_events_dispatch,
    inbound_events_requeue,
    inbound_events_store,
    inbound_events_sweep,
)
from apps.integrations.services.integrations import (
    integration_create,
    integration_rotate,
    integration_set_secret,
    integration_update,
)
from apps.integrations.services.processing import (
    alert_group_close_quietly,
    inbound_event_fail,
    inbound_event_process,
    triage_close_quiet,
)

__all__ = [
    "Received",
    "alert_group_close_quietly",
    "inbound_event_fail",
    "inbound_event_process",
    "inbound_events_dispatch",
    "inbound_events_requeue",
    "inbound_events_store",
    "inbound_events_sweep",
    "integration_create",
    "integration_rotate",
    "integration_set_secret",
    "integration_update",
    "triage_close_quiet",
]
