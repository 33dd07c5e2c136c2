"""Write use-cases of the incident domain (see incidents.py and maintenance.py)."""

from apps.incidents.services.common import UNCHANGED, Unchanged
from apps.incidents.services.incidents import (
    incident_assess,
    incident_attach_child,
    incident_change_severity,
    incident_confirm_impact,
    incident_detach_child,
    incident_edit,
    incident_extend_cadence,
    incident_mark_false_alarm,
    incident_open,
    incident_post_update,
    incident_reopen,
    incident_resolve,
)
from apps.incidents.services.maintenance import (
    maintenance_cancel,
    maintenance_complete,
    maintenance_extend,
    maintenance_post_update,
    maintenance_reschedule,
    maintenance_schedule,
    maintenance_start,
)
from apps.incidents.services.policy import policy_settings_update, severity_policy_update

__all__ = [
    "UNCHANGED",
    "Unchanged",
    "incident_assess",
    "incident_attach_child",
    "incident_change_severity",
    "incident_confirm_impact",
    "incident_detach_child",
    "incident_edit",
    "incident_extend_cadence",
    "incident_mark_false_alarm",
    "incident_open",
    "incident_post_update",
    "incident_reopen",
    "incident_resolve",
    "maintenance_cancel",
    "maintenance_complete",
    "maintenance_extend",
    "maintenance_post_update",
    "maintenance_reschedule",
    "maintenance_schedule",
    "maintenance_start",
    "policy_settings_update",
    "severity_policy_update",
]
