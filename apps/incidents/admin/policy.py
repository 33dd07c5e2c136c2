"""The policy editor: the four severity levels (fixed, so neither added nor deleted) and the
tenant-wide timers (one row). Both save through their service (checked and audited) while
their form validates; see `apps.incidents.forms.ServiceSavedForm`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from apps.incidents import selectors
from apps.incidents.admin.common import humanise
from apps.incidents.choices import Channel
from apps.incidents.forms import DURATION_HELP, PolicySettingsForm, SeverityPolicyForm
from apps.incidents.models import PolicySettings, SeverityPolicy

CHANNEL_LABELS = dict(Channel.choices)


class SavedByServiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Its form saves through a service, as the person editing."""

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """The form's service call saved it."""


@admin.register(SeverityPolicy)
class SeverityPolicyAdmin(SavedByServiceAdmin):
    form = SeverityPolicyForm
    list_display = (
        "level_code",
        "name",
        "channel_list",
        "update_every",
        "target_resolution_label",
        "postmortem",
    )
    list_display_links = ("level_code", "name")
    readonly_fields = ("level",)
    fieldsets = (
        (None, {"fields": ("level", "name", "criteria", "internal_response")}),
        ("Customers", {"fields": ("channels", "update_interval")}),
        ("Resolution", {"fields": ("target_resolution", "target_resolution_label")}),
        ("Post-mortem", {"fields": ("postmortem_visibility", "postmortem_deadline")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="level", ordering="level")
    def level_code(self, policy: SeverityPolicy) -> str:
        return policy.level

    @admin.display(description="channels")
    def channel_list(self, policy: SeverityPolicy) -> str:
        return ", ".join(CHANNEL_LABELS.get(c, c) for c in policy.channels) or "—"

    @admin.display(description="update every", ordering="update_interval")
    def update_every(self, policy: SeverityPolicy) -> str:
        return humanise(policy.update_interval) if policy.update_interval else "no cadence"

    @admin.display(description="post-mortem")
    def postmortem(self, policy: SeverityPolicy) -> str:
        if not policy.postmortem_deadline:
            return policy.get_postmortem_visibility_display()
        deadline = humanise(policy.postmortem_deadline)
        return f"{policy.get_postmortem_visibility_display()}, within {deadline}"


@admin.register(PolicySettings)
class PolicySettingsAdmin(SavedByServiceAdmin):
    form = PolicySettingsForm
    fieldsets = (
        (
            "Incident clocks",
            {
                "fields": (
                    "assessment_due",
                    "update_reminder_lead",
                    "extended_outage_after",
                    "extended_update_interval",
                ),
                "description": f"Durations: {DURATION_HELP}",
            },
        ),
        ("Maintenance", {"fields": ("maintenance_buffer_pct", "traffic_profile")}),
    )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """There is exactly one row: go straight to it."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row = selectors.policy_settings()
        return HttpResponseRedirect(
            reverse(
                "admin:incidents_policysettings_change",
                args=[row.pk],
                current_app=self.admin_site.name,
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the row always exists (selectors.policy_settings recreates it)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
