"""Canned responses: what support answers about an incident, from its current public state.

Rendered from the tenant's `CannedResponseTemplate` of each locale (the placeholders of a
progress update, in the same sandbox as message templates) with the incident's public
context (its latest public update, never an internal note) and stored per locale, so the
admin, the API, the Slack message and the help-desk note all show the same text. Every
update renders it again.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.communications.choices import MessageKind
from apps.communications.context import context_for, decode
from apps.communications.rendering import TemplateProblem, render, template_parse
from apps.core.audit import Actor, audit_record
from apps.core.exceptions import ValidationFailed
from apps.incidents.models import Incident, IncidentUpdate
from apps.integrations.models_support import CannedResponse, CannedResponseTemplate

DEFAULT_LOCALE = "en"
KIND = MessageKind.PROGRESS_UPDATE  # its placeholders are the ones a canned response offers
DEFAULT_TEMPLATE = (
    "Thank you for getting in touch. We are aware of an issue affecting "
    '{{ services|join:", " }}{% if regions %} in {{ regions|join:", " }}{% endif %} since '
    "{{ started_at|local:time_zone }}, and our team is working on it. Current status: "
    "{{ status }}.\n"
    "{% if update %}\n{{ update }}\n{% endif %}"
    "{% if next_update_at %}\nOur next update is due by {{ next_update_at|local:time_zone }}."
    "{% endif %}\n"
    "Follow the live status at {{ status_page_url }}. There is no need to open another "
    "ticket: we will update this one as soon as the issue is resolved."
)


def _latest_public_update(incident: Incident) -> IncidentUpdate | None:
    for update in incident.updates.order_by("-display_at", "-id"):
        if update.is_public:
            return update
    return None


def canned_template_check(source: str) -> None:
    """Refuse a template with an unknown placeholder, tag or filter, naming it."""
    try:
        template_parse(source, kind=KIND)
    except TemplateProblem as exc:
        raise ValidationFailed(
            "The canned response template cannot be used.", fields={"source": [str(exc)]}
        ) from exc


@transaction.atomic
def canned_template_save(*, locale: str, source: str, actor: Actor) -> CannedResponseTemplate:
    locale = locale.strip() or DEFAULT_LOCALE
    canned_template_check(source)
    template, _ = CannedResponseTemplate.objects.update_or_create(
        locale=locale, defaults={"source": source}
    )
    audit_record(actor=actor, action="canned_template.saved", obj=template)
    return template


def canned_response_render(*, incident: Incident, locale: str = DEFAULT_LOCALE) -> str:
    """The text for `locale` (the tenant's template, else English, else the default)."""
    row = (
        CannedResponseTemplate.objects.filter(locale=locale).first()
        or CannedResponseTemplate.objects.filter(locale=DEFAULT_LOCALE).first()
    )
    source = row.source if row is not None else DEFAULT_TEMPLATE
    context = context_for(kind=KIND, incident=incident, update=_latest_public_update(incident))
    if incident.resolved_at is not None:
        context["next_update_at"] = None
    template, _ = template_parse(source, kind=KIND)
    return render(template, decode(context)).strip()


def canned_responses_refresh(*, incident: Incident) -> list[CannedResponse]:
    """Render and store the incident's canned response in every locale the tenant has."""
    locales = set(CannedResponseTemplate.objects.values_list("locale", flat=True)) | {
        DEFAULT_LOCALE
    }
    now = timezone.now()
    stored = []
    for locale in sorted(locales):
        text = canned_response_render(incident=incident, locale=locale)
        row, _ = CannedResponse.objects.update_or_create(
            incident=incident, locale=locale, defaults={"text": text, "updated_at": now}
        )
        stored.append(row)
    return stored


def canned_response_for(*, incident: Incident, locale: str = DEFAULT_LOCALE) -> CannedResponse:
    """The stored canned response (rendered now if it was never stored)."""
    row = CannedResponse.objects.filter(incident=incident, locale=locale).first()
    if row is None and locale != DEFAULT_LOCALE:
        row = CannedResponse.objects.filter(incident=incident, locale=DEFAULT_LOCALE).first()
    if row is None:
        rows = canned_responses_refresh(incident=incident)
        row = next((r for r in rows if r.locale == locale), rows[0])
    return row
