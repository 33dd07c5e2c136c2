from django import template

from apps.incidents.choices import ComponentStatus, IncidentStatus, MaintenanceStatus

register = template.Library()

LABELS = {
    **dict(ComponentStatus.choices),
    **dict(MaintenanceStatus.choices),
    **dict(IncidentStatus.choices),
    "postmortem": "Post-mortem",
}


@register.filter
def status_label(value: str) -> str:
    """`major_outage` -> `Major outage`, for every public status enum."""
    return str(LABELS.get(value, value.replace("_", " ").capitalize()))
