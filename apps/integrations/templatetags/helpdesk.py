"""`{% helpdesk_panel incident %}`: the support-coordination panel of an incident's admin page
(help-desk counts and actions, tickets left open for a person, the canned response with a
copy button, the war room)."""

from __future__ import annotations

from typing import Any

from django import template

from apps.incidents.models import Incident
from apps.integrations.models_support import HelpdeskAction, TicketState, WarRoom
from apps.integrations.services.canned import canned_response_for
from apps.integrations.services.helpdesk import helpdesk_counts, helpdesk_installation

register = template.Library()


@register.inclusion_tag("integrations/incident_helpdesk.html")
def helpdesk_panel(incident: Incident) -> dict[str, Any]:
    installation = helpdesk_installation()
    return {
        "installation": installation,
        "counts": helpdesk_counts(incident),
        "left_open": incident.helpdesk_tickets.filter(state=TicketState.LEFT_OPEN),
        "actions": HelpdeskAction.objects.filter(incident=incident)[:50],
        "problem": getattr(incident, "helpdesk_problem", None),
        "canned": canned_response_for(incident=incident),
        "war_room": WarRoom.objects.filter(incident=incident).first(),
    }
