"""The message page of the staff portal: where it goes, how far it got, what failed and why,
and what each channel says to a chosen subscriber.

The page is read-only; approving (which sends) and cancelling are actions that call the
services, so the portal obeys the same rules as the API (`/api/v1/messages/{id}/`). Both need
the change permission on messages, which the Communications approver role has.

The preview renders every channel of the message for one subscriber with the fan-out's own
code (`delivery._variants` once per time zone, then `delivery._personalise` for the name and
links), so what the page shows is what that subscriber receives.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.communications import delivery, selectors, services
from apps.communications.channels.broadcast import CHANNELS as BROADCAST
from apps.communications.channels.broadcast import (
    broadcast_counts,
    broadcast_failures,
    broadcast_parts,
)
from apps.communications.channels.checks import channel_problems
from apps.communications.choices import ChannelKey, DeliveryStatus, MessageState
from apps.communications.context import subscriber_links
from apps.communications.models import CadenceSettings, Message, ResponseContact
from apps.incidents.admin.common import ActionPageAdmin, ObjectAction, utc
from apps.incidents.forms import ObjectForm
from apps.subscribers.models import Subscriber

STATUSES = [s.value for s in DeliveryStatus]
PICKER_LIMIT = 50


class ApproveForm(ObjectForm):
    intro = (
        "Approving sends the message now: its deliveries are written and queued on every "
        "channel below. It cannot be recalled once sending."
    )


class CancelForm(ObjectForm):
    intro = "The message is not sent. Its incident and update stay as they are."


def _approve(request: HttpRequest, message: Message, form: ApproveForm) -> str:
    services.message_publish(message=message, actor=request.user, approver=True)
    return f"Message #{message.pk} is approved and sending."


def _cancel(request: HttpRequest, message: Message, form: CancelForm) -> str:
    services.message_cancel(message=message, actor=request.user)
    return f"Message #{message.pk} is cancelled."


def _undecided(message: Message) -> bool:
    return message.state in (MessageState.DRAFT, MessageState.APPROVED)


def _zone(subscriber: Subscriber) -> str:
    customer = subscriber.customer
    return subscriber.time_zone or (customer.time_zone if customer else "") or "UTC"


def preview_for(message: Message, subscriber: Subscriber) -> list[dict[str, Any]]:
    """Each channel of the message as `subscriber` gets it (broadcasts: as everyone in the
    subscriber's time zone sees them)."""
    zone = _zone(subscriber)
    links = subscriber_links(subscriber.manage_token)
    shown = []
    for channel in message.channels:
        label = ChannelKey(channel).label
        if channel in BROADCAST:
            parts = broadcast_parts(
                message, channel, variants=delivery._variants, tokens=delivery.TOKENS, zone=zone
            )
            parts.pop("url", None)
            shown.append({"channel": label, "to": "everyone (broadcast)", "parts": parts})
            continue
        address = subscriber.address_for(channel)
        if not address:
            shown.append({"channel": label, "to": "", "parts": {}, "note": "no address"})
            continue
        parts = delivery._personalise(
            delivery._variants(message, channel, {zone})[zone], subscriber, links
        )
        if "json" in parts:
            parts["json"] = json.dumps(json.loads(parts["json"]), indent=2)
        shown.append({"channel": label, "to": address, "parts": parts})
    return shown


def _find(query: str) -> Subscriber | None:
    query = query.strip()
    if not query:
        return None
    match = Q(email__iexact=query) | Q(phone=query)
    if query.isdigit():
        match |= Q(pk=int(query))
    return Subscriber.objects.select_related("customer").filter(match).first()


@admin.register(Message)
class MessageAdmin(ActionPageAdmin):
    list_display = ("__str__", "subject", "state", "channels_label", "created_label")
    list_filter = ("state", "kind")
    list_select_related = ("incident", "maintenance")
    search_fields = ("incident__title", "maintenance__title")
    fieldsets = (
        (None, {"fields": ("kind", "state", "subject", "channels_label", "requires_approval")}),
        ("Approval", {"fields": ("approved_by_label", "approved_label", "sent_label")}),
    )
    object_actions = (
        ObjectAction("approve", "Approve and send", ApproveForm, _approve, _undecided),
        ObjectAction("cancel", "Cancel", CancelForm, _cancel, _undecided),
    )
    change_form_template = "admin/communications/message/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # messages come from incident updates and maintenance events

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("incident", "maintenance")

    @admin.display(description="About")
    def subject(self, message: Message) -> SafeString | str:
        if message.incident is not None:
            url = reverse("admin:incidents_incident_change", args=[message.incident_id])
            return format_html('<a href="{}">{}</a>', url, message.incident)
        if message.maintenance is not None:
            url = reverse("admin:incidents_maintenancewindow_change", args=[message.maintenance_id])
            return format_html('<a href="{}">{}</a>', url, message.maintenance)
        return "—"

    @admin.display(description="Channels")
    def channels_label(self, message: Message) -> str:
        return ", ".join(ChannelKey(c).label for c in message.channels)

    @admin.display(description="Created", ordering="created_at")
    def created_label(self, message: Message) -> str:
        return utc(message.created_at)

    @admin.display(description="Approved at")
    def approved_label(self, message: Message) -> str:
        return utc(message.approved_at)

    @admin.display(description="Sent at")
    def sent_label(self, message: Message) -> str:
        return utc(message.sent_at)

    def page_context(self, request: HttpRequest, obj: Message) -> dict[str, Any]:
        counts = {**selectors.delivery_counts(obj), **broadcast_counts(obj)}
        rows = [
            {
                "channel": ChannelKey(channel).label,
                "audience": obj.audience.get(channel, {}),
                "counts": [counts.get(channel, {}).get(s, 0) for s in STATUSES],
                "total": sum(counts.get(channel, {}).values()),
            }
            for channel in obj.channels
        ]
        problems = channel_problems(obj)
        query = request.GET.get("subscriber", "")
        chosen = _find(query)
        return {
            "statuses": [DeliveryStatus(s).label for s in STATUSES],
            "count_rows": rows,
            "failures": selectors.delivery_failures(obj),
            "broadcast_failures": broadcast_failures(obj),
            "warnings": [
                (ChannelKey(c).label, w) for c, ws in problems.warnings.items() for w in ws
            ],
            "errors": [(ChannelKey(c).label, e) for c, es in problems.errors.items() for e in es],
            "subscriber_query": query,
            "subscriber_choices": Subscriber.objects.order_by("email", "id")[:PICKER_LIMIT],
            "chosen": chosen,
            "not_found": bool(query.strip()) and chosen is None,
            "preview": preview_for(obj, chosen) if chosen is not None else [],
        }


@admin.register(CadenceSettings)
class CadenceSettingsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The one row of who staff reminders reach and when maintenance reminders go out."""

    list_display = ("__str__", "staff_slack_webhook_url", "executive_name")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not CadenceSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ResponseContact)
class ResponseContactAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The people escalations reach, per severity (the policy's internal response)."""

    list_display = ("name", "email", "severities")
    search_fields = ("name", "email")
