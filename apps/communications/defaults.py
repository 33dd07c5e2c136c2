"""The wording every tenant starts with (seeded by a migration into the template schema;
tenants edit their copy). Structure follows DESIGN.md's workflow: the initial alert says
what is affected, since when, how many, the status, what we are doing and when the next
update comes; the resolution says since when it is back to normal, what happened, what we
fixed and what prevents a repeat, and the SLA paragraph appears only when a credit applies.

E-mail HTML is produced from the text part (escaped, paragraphs kept) unless a tenant adds
an `html` template.
"""

from __future__ import annotations

from apps.communications.choices import MessageKind as K

# " in Europe, Asia" when the incident or window is regional. Short texts are read out of
# context (a social post reaches every customer, not only the affected), so they say where.
_IN_REGIONS = "{% if regions %} in {{ regions|join:', ' }}{% endif %}"
_SIGN = (
    "\n\n{{ company }}\nStatus page: {{ status_page_url }}\n"
    "Manage your notifications: {{ manage_url }}"
)

# kind -> (subject, long text, short text). The short text serves SMS, social, in-app, chat.
DEFAULT_TEXTS: dict[str, tuple[str, str, str]] = {
    K.INITIAL_ALERT: (
        "[{{ severity }}] {{ incident.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "We are experiencing an issue affecting {{ services|join:', ' }}"
        "{% if regions %} in {{ regions|join:', ' }}{% endif %}.\n\n"
        "Started: {{ started_at|local:time_zone }}\n"
        "{% if impact_pct %}Customers affected: about {{ impact_pct }}%\n{% endif %}"
        "Status: {{ status }}\n\n"
        "What we are doing: {{ update }}\n\n"
        "{% if next_update_at %}Next update by {{ next_update_at|local:time_zone }}."
        "{% else %}We will update you as soon as we know more.{% endif %}" + _SIGN,
        "{{ company }}: {{ incident.title }}" + _IN_REGIONS + " ({{ status }}). "
        "{% if next_update_at %}Next update by {{ next_update_at|local:time_zone }}. {% endif %}"
        "{{ status_page_url }}",
    ),
    K.PROGRESS_UPDATE: (
        "[{{ status|capfirst }}] {{ incident.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "An update on {{ incident.title }}:\n\n{{ update }}\n\n"
        "{% if root_cause %}Root cause: {{ root_cause }}\n{% endif %}"
        "Affected: {{ services|join:', ' }}{% if regions %} ({{ regions|join:', ' }}){% endif %}\n"
        "{% if eta %}Expected resolution: {{ eta|local:time_zone }}\n"
        "{% else %}Expected resolution: still investigating\n{% endif %}"
        "{% if what_you_can_do %}What you can do: {{ what_you_can_do }}\n{% endif %}"
        "{% if next_update_at %}\nNext update by {{ next_update_at|local:time_zone }}.{% endif %}"
        + _SIGN,
        "{{ company }} update: {{ incident.title }}" + _IN_REGIONS + " ({{ status }}). "
        "{{ update|truncatechars:80 }} {{ status_page_url }}",
    ),
    K.EXTENDED_OUTAGE: (
        "[Ongoing] {{ incident.title }}: what we know and what we don't",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "{{ incident.title }} is taking longer to resolve than we hoped.\n\n"
        "What we know: {{ known }}\n\nWhat we don't know yet: {{ unknown }}\n\n"
        "{{ update }}\n\n"
        "{% if next_update_at %}Next update by {{ next_update_at|local:time_zone }}.{% endif %}"
        + _SIGN,
        "{{ company }}: {{ incident.title }} is ongoing. Updates every {{ update_interval }}: "
        "{{ status_page_url }}",
    ),
    K.RESOLUTION: (
        "[Resolved] {{ incident.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "{{ services|join:', ' }} {{ services|pluralize:'is,are' }} back to normal as of "
        "{{ resolved_at|local:time_zone }}.\n\n{{ update }}\n\n"
        "{% if what_happened %}What happened: {{ what_happened }}\n\n{% endif %}"
        "{% if what_we_fixed %}What we fixed: {{ what_we_fixed }}\n\n{% endif %}"
        "{% if prevention %}What we are doing to prevent it: {{ prevention }}\n\n{% endif %}"
        "{% if sla_credit %}Under your service level agreement this outage qualifies you "
        "for a credit of {{ sla_credit }}; we will confirm it on your account.\n\n{% endif %}"
        "We are sorry for the disruption." + _SIGN,
        "{{ company }}: resolved: {{ incident.title }}" + _IN_REGIONS + ". {{ status_page_url }}",
    ),
    K.FALSE_ALARM: (
        "[False alarm] {{ incident.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "Earlier we told you about {{ incident.title }}. It turned out to be a false alarm: "
        "{{ services|join:', ' }} worked normally throughout. Sorry for the worry." + _SIGN,
        "{{ company }}: false alarm, {{ incident.title }}: everything worked normally. Sorry!",
    ),
    K.EXECUTIVE_NOTE: (
        "A personal note about {{ incident.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "I want to tell you personally where we are with {{ incident.title }}.\n\n"
        "{{ update }}\n\n{{ executive_name }}" + _SIGN,
        "{{ company }}: a personal note from {{ executive_name }} about {{ incident.title }}.",
    ),
    K.POSTMORTEM_PUBLISHED: (
        "Post-incident review: {{ incident.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "We published our review of {{ incident.title }}.\n\n{{ summary }}\n\n"
        "Read it: {{ postmortem_url }}" + _SIGN,
        "{{ company }}: review of {{ incident.title }}: {{ postmortem_url }}",
    ),
    K.MAINTENANCE_NOTICE: (
        "[Scheduled maintenance] {{ maintenance.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "We will carry out maintenance on {{ services|join:', ' }}"
        "{% if regions %} in {{ regions|join:', ' }}{% endif %}.\n\n"
        "Window: {{ window_start|local:time_zone }} to {{ window_end|local:time_zone }}\n"
        "Expected impact: {{ expected_impact }}\n"
        "{% if what_to_do %}What to do: {{ what_to_do }}\n{% endif %}"
        "{% if contact_by %}Questions? Contact us before {{ contact_by|local:time_zone }}.\n"
        "{% endif %}\nDetails: {{ details_url }}" + _SIGN,
        "{{ company }}: maintenance on {{ services|join:', ' }}" + _IN_REGIONS + " "
        "{{ window_start|local:time_zone }} to {{ window_end|local:time_zone }} "
        "({{ expected_impact }}). {{ details_url }}",
    ),
    K.MAINTENANCE_REMINDER: (
        "[Reminder] {{ maintenance.title }} starts in {{ starts_in }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "A reminder: maintenance on {{ services|join:', ' }} starts in {{ starts_in }}, at "
        "{{ window_start|local:time_zone }}, and ends by {{ window_end|local:time_zone }}.\n"
        "Expected impact: {{ expected_impact }}\n\nDetails: {{ details_url }}" + _SIGN,
        "{{ company }}: maintenance starts in {{ starts_in }} "
        "({{ window_start|local:time_zone }}). {{ details_url }}",
    ),
    K.MAINTENANCE_STARTED: (
        "[In progress] {{ maintenance.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "Maintenance on {{ services|join:', ' }} has started. Planned end: "
        "{{ window_end|local:time_zone }}.\n\nDetails: {{ details_url }}" + _SIGN,
        "{{ company }}: maintenance started, planned end {{ window_end|local:time_zone }}.",
    ),
    K.MAINTENANCE_COMPLETED: (
        "[Completed] {{ maintenance.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "Maintenance on {{ services|join:', ' }} is complete; everything is back to normal."
        + _SIGN,
        "{{ company }}: maintenance complete, all back to normal.",
    ),
    K.MAINTENANCE_OVERRUN: (
        "[Running late] {{ maintenance.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "Maintenance on {{ services|join:', ' }} is taking longer than planned. "
        "New expected end: {{ revised_end|local:time_zone }}.\n\nDetails: {{ details_url }}"
        + _SIGN,
        "{{ company }}: maintenance running late, new end {{ revised_end|local:time_zone }}.",
    ),
    K.MAINTENANCE_RESCHEDULED: (
        "[Rescheduled] {{ maintenance.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "Maintenance on {{ services|join:', ' }} planned for "
        "{{ previous_start|local:time_zone }} moves to {{ window_start|local:time_zone }} - "
        "{{ window_end|local:time_zone }}.\n\nDetails: {{ details_url }}" + _SIGN,
        "{{ company }}: maintenance moved to {{ window_start|local:time_zone }}.",
    ),
    K.MAINTENANCE_CANCELLED: (
        "[Cancelled] {{ maintenance.title }}",
        "Hello{% if recipient_name %} {{ recipient_name }}{% endif %},\n\n"
        "The maintenance on {{ services|join:', ' }}"
        "{% if regions %} in {{ regions|join:', ' }}{% endif %} planned for "
        "{{ window_start|local:time_zone }} to {{ window_end|local:time_zone }} is cancelled: "
        "nothing changes for you at that time.\n\n"
        "{% if reason %}{{ reason }}\n\n{% endif %}"
        "If it is planned again, we will tell you beforehand." + _SIGN,
        "{{ company }}: the maintenance planned for {{ window_start|local:time_zone }} is "
        "cancelled. Nothing changes for you.",
    ),
}

# channel -> part -> which default text serves it
CHANNEL_PARTS: dict[str, dict[str, int]] = {
    "email": {"subject": 0, "text": 1},
    "status_page": {"text": 1},
    "sms": {"text": 2},
    "social": {"text": 2},
    "in_app": {"text": 2},
    "slack": {"text": 2},
    "teams": {"text": 2},
}


def default_templates() -> list[tuple[str, str, str, str]]:
    """(kind, channel, part, source) for every seeded template."""
    rows = []
    for kind, texts in DEFAULT_TEXTS.items():
        for channel, parts in CHANNEL_PARTS.items():
            for part, index in parts.items():
                rows.append((str(kind), channel, part, texts[index]))
    return rows
