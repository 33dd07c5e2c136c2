"""Forms of the support portal (the tenant admin).

They parse what a person typed into the arguments of one service; the rules themselves live
in the services, and a refusal (an ApplicationError) is shown on the form by `show_error`,
next to the field it names, with the person's input kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.core.audit import Actor
from apps.core.exceptions import ApplicationError
from apps.incidents.choices import (
    ACTIVE_MAINTENANCE,
    UPDATE_STATUSES,
    Channel,
    ComponentStatus,
    ExpectedImpact,
    IncidentStatus,
    MaintenanceStatus,
    Severity,
)
from apps.incidents.models import (
    Incident,
    MaintenanceWindow,
    PolicySettings,
    Region,
    Service,
    SeverityPolicy,
)
from apps.incidents.services import (
    UNCHANGED,
    Unchanged,
    policy_settings_update,
    severity_policy_update,
)

Fieldsets = list[tuple[str | None, dict[str, Any]]]

# Statuses a person opens an incident with (operational and maintenance are not incidents).
OPENING_STATUSES = [
    (s.value, s.label)
    for s in (
        ComponentStatus.MAJOR_OUTAGE,
        ComponentStatus.PARTIAL_OUTAGE,
        ComponentStatus.DEGRADED_PERFORMANCE,
    )
]
COMPONENT_PREFIX = "component__"
WIDE = forms.TextInput(attrs={"class": "vTextField"})  # the admin's width for text inputs
DURATION_HELP = "hours:minutes:seconds, e.g. 00:30:00; days first if needed: 2 00:00:00."


class UTCDateTimeField(forms.DateTimeField):
    """A date and time typed and shown in UTC (the labels name the zone), whatever zone the
    request runs in."""

    widget = forms.DateTimeInput(format="%Y-%m-%dT%H:%M", attrs={"type": "datetime-local"})

    def to_python(self, value: Any) -> datetime | None:
        with timezone.override(UTC):
            return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        with timezone.override(UTC):
            return super().prepare_value(value)


def _text(label: str, *, required: bool = False, help_text: str = "", rows: int = 4) -> Any:
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        strip=True,
        widget=forms.Textarea(attrs={"rows": rows, "cols": 80}),
    )


def _services_field(help_text: str) -> forms.ModelMultipleChoiceField:  # type: ignore[type-arg]
    return forms.ModelMultipleChoiceField(
        queryset=Service.objects.all(),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=help_text,
    )


def _regions_field() -> forms.ModelMultipleChoiceField:  # type: ignore[type-arg]
    return forms.ModelMultipleChoiceField(
        queryset=Region.objects.all(),
        to_field_name="code",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked = every region.",
    )


def _commander_field() -> forms.ModelChoiceField:  # type: ignore[type-arg]
    return forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True, is_staff=True),
        required=False,
        help_text="Who owns the incident and is reminded when an update is due.",
    )


class PortalForm(forms.Form):
    """Input for one service call."""

    def admin_fieldsets(self) -> Fieldsets:
        return [(None, {"fields": list(self.fields)})]

    def _choice_field(self, name: str) -> forms.ChoiceField:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        return field

    def show_error(self, exc: ApplicationError) -> None:
        """Put the service's refusal on the form: its message on top, each field's reason
        next to the field (or on top, named, if the form has no such field)."""
        self.add_error(None, exc.message)
        for field, reasons in exc.fields.items():
            for reason in reasons:
                if field in self.fields:
                    self.add_error(field, reason)
                else:
                    self.add_error(None, f"{field.replace('_', ' ').capitalize()}: {reason}")


class ObjectForm(PortalForm):
    """A form acting on one object (an incident or a maintenance window)."""

    intro = ""

    def __init__(self, data: Any = None, *, obj: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.obj = obj


# --- incidents ----------------------------------------------------------------------------


class IncidentOpenForm(PortalForm):
    title = forms.CharField(
        max_length=200,
        widget=WIDE,
        help_text="Customer-facing, in customer terms, e.g. 'Payments delayed'.",
    )
    severity = forms.ChoiceField(choices=[("", "Choose a severity"), *Severity.choices])
    services = _services_field("The services customers will see as affected.")
    component_status = forms.ChoiceField(
        choices=OPENING_STATUSES,
        initial=ComponentStatus.MAJOR_OUTAGE,
        label="Status of those services",
    )
    regions = _regions_field()
    impact_scope_pct = forms.IntegerField(
        required=False, label="Customers affected (%)", help_text="Leave empty if unknown."
    )
    customer_impact_confirmed = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Untick for a suspected problem: it stays internal (no customer message, "
        "no update cadence) until impact is confirmed.",
    )
    body = _text(
        "First public message",
        help_text="Markdown; customers see it. Needs confirmed customer impact. "
        "Leave empty to post the first update later.",
    )
    internal_title = forms.CharField(max_length=200, required=False, widget=WIDE)
    commander = _commander_field()

    def admin_fieldsets(self) -> Fieldsets:
        return [
            (None, {"fields": ["title", "severity", "customer_impact_confirmed", "commander"]}),
            (
                "Impact",
                {"fields": ["services", "component_status", "regions", "impact_scope_pct"]},
            ),
            ("Messages", {"fields": ["body", "internal_title"]}),
        ]

    def service_statuses(self) -> dict[str, str]:
        status = self.cleaned_data["component_status"]
        return {service.slug: status for service in self.cleaned_data["services"]}

    def region_codes(self) -> list[str]:
        return [region.code for region in self.cleaned_data["regions"]]


class IncidentEditForm(ObjectForm):
    intro = "Severity, status and the timeline have their own actions."

    title = forms.CharField(
        max_length=200, widget=WIDE, help_text="Customer-facing, in customer terms."
    )
    internal_title = forms.CharField(max_length=200, required=False, widget=WIDE)
    impact_scope_pct = forms.IntegerField(required=False, label="Customers affected (%)")
    regions = _regions_field()
    commander = _commander_field()

    def __init__(self, data: Any = None, *, obj: Incident, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "title": obj.title,
                "internal_title": obj.internal_title,
                "impact_scope_pct": obj.impact_scope_pct,
                "regions": [r.code for r in obj.regions.all()],
                "commander": obj.commander_id,
            },
        )
        super().__init__(data, obj=obj, **kwargs)

    def region_codes(self) -> list[str]:
        return [region.code for region in self.cleaned_data["regions"]]


class EtaForm(ObjectForm):
    """An ETA that may be kept, set, or declared unknown (which starts the extended-outage
    clock)."""

    eta = UTCDateTimeField(label="ETA (UTC)", required=False, help_text="When it should be fixed.")
    eta_unknown = forms.BooleanField(
        label="ETA unknown", required=False, help_text="Tick to withdraw the current ETA."
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("eta") and data.get("eta_unknown"):
            self.add_error("eta", "Give an ETA or tick 'ETA unknown', not both.")
        return data

    def eta_value(self) -> datetime | Unchanged | None:
        """The new ETA, None for 'unknown', or UNCHANGED when nothing new was given."""
        if self.cleaned_data["eta_unknown"]:
            return None
        eta = self.cleaned_data["eta"]
        if eta is None or eta == self.obj.eta:
            return UNCHANGED
        return eta


class PostUpdateForm(EtaForm):
    body = _text(
        "Public message",
        help_text="Markdown; customers see it. Leave empty for an internal-only entry.",
    )
    internal_note = _text("Internal note", help_text="Never leaves the portal.", rows=3)
    status = forms.ChoiceField(required=False)
    next_update_at = UTCDateTimeField(
        label="Next update at (UTC)",
        required=False,
        help_text="The time promised to customers; empty = the severity's cadence.",
    )
    deliver_notifications = forms.BooleanField(
        label="Notify subscribers",
        required=False,
        initial=True,
        help_text="Only a public message is sent; untick to publish it quietly.",
    )

    def __init__(self, data: Any = None, *, obj: Incident, **kwargs: Any) -> None:
        super().__init__(data, obj=obj, **kwargs)
        current = IncidentStatus(obj.status).label
        self._choice_field("status").choices = [
            ("", f"Keep: {current}"),
            *((s.value, s.label) for s in UPDATE_STATUSES if s != obj.status),
        ]
        if not obj.customer_impact_confirmed:
            self.fields[
                "body"
            ].help_text = (
                "Customer impact is not confirmed: confirm it first, or write an internal note."
            )
        affected = {row.service_id: row.component_status for row in obj.affected.all()}
        # Affected services first, then the others (sorted() keeps the catalogue order).
        for service in sorted(Service.objects.all(), key=lambda s: s.pk not in affected):
            now = affected.get(service.pk)
            self.fields[COMPONENT_PREFIX + service.slug] = forms.ChoiceField(
                label=f"{service.name} (now {ComponentStatus(now).label})" if now else service.name,
                choices=[("", "No change"), *ComponentStatus.choices],
                required=False,
            )

    def admin_fieldsets(self) -> Fieldsets:
        components = [name for name in self.fields if name.startswith(COMPONENT_PREFIX)]
        return [
            (None, {"fields": ["body", "internal_note", "status", "deliver_notifications"]}),
            ("Timing", {"fields": ["eta", "eta_unknown", "next_update_at"]}),
            (
                "Component status",
                {"fields": components, "description": "Only the services you change."},
            ),
        ]

    def status_value(self) -> str | None:
        return self.cleaned_data["status"] or None

    def component_changes(self) -> dict[str, str]:
        return {
            name.removeprefix(COMPONENT_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(COMPONENT_PREFIX) and value
        }


class AssessForm(EtaForm):
    intro = "The first assessment stops the assessment clock."

    hypothesis = _text("Root-cause hypothesis")
    impact_scope_pct = forms.IntegerField(required=False, label="Customers affected (%)")

    field_order = ("hypothesis", "eta", "eta_unknown", "impact_scope_pct")

    def __init__(self, data: Any = None, *, obj: Incident, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "hypothesis": obj.root_cause_hypothesis,
                "eta": obj.eta,
                "impact_scope_pct": obj.impact_scope_pct,
            },
        )
        super().__init__(data, obj=obj, **kwargs)


class ConfirmImpactForm(ObjectForm):
    intro = (
        "Customers are affected: the incident leaves triage and becomes public, and the "
        "update cadence of its severity starts now."
    )


class ChangeSeverityForm(ObjectForm):
    severity = forms.ChoiceField(choices=Severity.choices)
    reason = _text("Reason", help_text="Recorded in the timeline (internal).", rows=3)

    def __init__(self, data: Any = None, *, obj: Incident, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"severity": obj.severity})
        super().__init__(data, obj=obj, **kwargs)


class ResolveForm(ObjectForm):
    intro = "Every affected service returns to operational; open child incidents close too."

    body = _text(
        "Resolution message",
        help_text="Public: what was affected, the cause, the fix. Required once customers "
        "were told about the incident.",
        rows=6,
    )
    # The all-clear's parts, required once customers were told (the service says so).
    what_was_affected = _text("What was affected", help_text="Public, in customer terms.", rows=2)
    root_cause = _text("Brief root cause", help_text="Public.", rows=2)
    what_we_fixed = _text("What we fixed", help_text="Public.", rows=2)
    prevention = _text("Prevention steps", help_text="Public.", rows=2)

    def __init__(self, data: Any = None, *, obj: Incident, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "what_was_affected": obj.what_was_affected,
                "root_cause": obj.root_cause or obj.root_cause_hypothesis,
                "what_we_fixed": obj.what_we_fixed,
                "prevention": obj.prevention,
            },
        )
        super().__init__(data, obj=obj, **kwargs)


class FalseAlarmForm(ObjectForm):
    intro = "Not a real problem: the incident closes as a false alarm."

    note = _text("Note", help_text="Internal: why it was a false alarm.", rows=3)


class IncidentChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Incident) -> str:  # type: ignore[override]
        return f"#{obj.pk} {obj.title} ({obj.severity}, {obj.get_status_display()})"


class AttachParentForm(ObjectForm):
    intro = (
        "Cascading failure: this incident joins the parent's thread and never notifies "
        "customers on its own."
    )

    parent = IncidentChoiceField(queryset=Incident.objects.none(), label="Parent incident")

    def __init__(self, data: Any = None, *, obj: Incident, **kwargs: Any) -> None:
        super().__init__(data, obj=obj, **kwargs)
        field = self.fields["parent"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Incident.objects.open().exclude(pk=obj.pk)


class DetachForm(ObjectForm):
    intro = (
        "This incident leaves its parent's thread and speaks for itself again: once its "
        "customer impact is confirmed it is public on its own and its update cadence starts."
    )

    reason = _text("Reason", help_text="Recorded in the timeline (internal).", rows=3)


class ReopenForm(ObjectForm):
    intro = "The problem is back: the incident returns to investigating with its cadence."

    reason = _text("Reason", required=True, rows=3)


# --- maintenance --------------------------------------------------------------------------


class SuggestWindowForm(forms.Form):
    estimated_minutes = forms.IntegerField(
        label="Estimated duration (minutes)", min_value=1, max_value=14 * 24 * 60, initial=60
    )


class MaintenanceScheduleForm(PortalForm):
    title = forms.CharField(max_length=200, widget=WIDE, help_text="In words customers understand.")
    services = _services_field("Shown as under maintenance while the window is open.")
    regions = _regions_field()
    scheduled_start = UTCDateTimeField(label="Start (UTC)")
    scheduled_end = UTCDateTimeField(label="End (UTC)")
    expected_impact = forms.ChoiceField(
        choices=ExpectedImpact.choices, initial=ExpectedImpact.DEGRADED
    )
    description = _text("Description", help_text="Public.")
    customer_action = _text("What customers should do", rows=3)
    contact_by = UTCDateTimeField(
        label="Contact us before (UTC)",
        required=False,
        help_text="Customers with concerns should write before this time.",
    )

    def admin_fieldsets(self) -> Fieldsets:
        return [
            (None, {"fields": ["title", "services", "regions", "expected_impact"]}),
            ("When", {"fields": ["scheduled_start", "scheduled_end", "contact_by"]}),
            ("Messages", {"fields": ["description", "customer_action"]}),
        ]

    def service_slugs(self) -> list[str]:
        return [service.slug for service in self.cleaned_data["services"]]

    def region_codes(self) -> list[str]:
        return [region.code for region in self.cleaned_data["regions"]]


class MaintenanceStartForm(ObjectForm):
    body = _text("Message", help_text="Public; empty = 'Maintenance has started.'", rows=3)


class MaintenanceUpdateForm(ObjectForm):
    body = _text("Message", required=True, help_text="Public.", rows=4)
    status = forms.ChoiceField(required=False)

    def __init__(self, data: Any = None, *, obj: MaintenanceWindow, **kwargs: Any) -> None:
        super().__init__(data, obj=obj, **kwargs)
        current = MaintenanceStatus(obj.status).label
        self._choice_field("status").choices = [
            ("", f"Keep: {current}"),
            *((s.value, s.label) for s in ACTIVE_MAINTENANCE if s != obj.status),
        ]

    def status_value(self) -> str | None:
        return self.cleaned_data["status"] or None


class MaintenanceExtendForm(ObjectForm):
    new_end = UTCDateTimeField(label="New end (UTC)")
    reason = _text("Message", help_text="Public; empty = 'Extended until ...'.", rows=3)

    def __init__(self, data: Any = None, *, obj: MaintenanceWindow, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"new_end": obj.scheduled_end})
        super().__init__(data, obj=obj, **kwargs)


class MaintenanceRescheduleForm(ObjectForm):
    intro = "Only a window that has not started can be moved; a started one is extended."

    scheduled_start = UTCDateTimeField(label="New start (UTC)")
    scheduled_end = UTCDateTimeField(label="New end (UTC)")
    reason = _text(
        "Message",
        help_text="Public: subscribers read it with the new times; empty = 'Rescheduled to ...'.",
        rows=3,
    )

    def __init__(self, data: Any = None, *, obj: MaintenanceWindow, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial", {"scheduled_start": obj.scheduled_start, "scheduled_end": obj.scheduled_end}
        )
        super().__init__(data, obj=obj, **kwargs)


class MaintenanceCompleteForm(ObjectForm):
    body = _text("Message", help_text="Public; empty = 'Maintenance is complete.'", rows=3)


class MaintenanceCancelForm(ObjectForm):
    intro = "Only a window that has not started can be cancelled."

    reason = _text(
        "Message",
        help_text=(
            "Public: subscribers who were told of the window read it in the cancellation; "
            "empty = 'This maintenance has been cancelled.'"
        ),
    )


# --- policy -------------------------------------------------------------------------------


class ServiceSavedForm(forms.ModelForm):  # type: ignore[type-arg]
    """A model form of the admin that saves through its service while it validates, inside a
    savepoint: a refusal (an ApplicationError) is shown next to the field it names and
    nothing is written; on success the saved row is the form's instance."""

    actor: Actor = None  # set per request by the admin

    def save_through_service(self, changes: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        fields = self._meta.fields or ()
        changes = {name: self.cleaned_data[name] for name in fields if name in self.cleaned_data}
        try:
            with transaction.atomic():
                self.instance = self.save_through_service(changes)
        except ApplicationError as exc:
            for field, reasons in exc.fields.items():
                for reason in reasons:
                    self.add_error(field if field in self.fields else None, reason)
            if not exc.fields:
                self.add_error(None, exc.message)

    def save(self, commit: bool = True) -> Any:
        """The service saved it while the form validated."""
        return self.instance

    def save_m2m(self) -> None:
        """No relations to save."""


class SeverityPolicyForm(ServiceSavedForm):
    channels = forms.MultipleChoiceField(
        choices=Channel.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    def save_through_service(self, changes: dict[str, Any]) -> SeverityPolicy:
        return severity_policy_update(policy=self.instance, changes=changes, actor=self.actor)

    class Meta:
        model = SeverityPolicy
        fields = (
            "name",
            "criteria",
            "channels",
            "update_interval",
            "internal_response",
            "target_resolution",
            "target_resolution_label",
            "postmortem_visibility",
            "postmortem_deadline",
        )
        help_texts = {
            "update_interval": f"Empty = no customer cadence. Format: {DURATION_HELP}",
            "target_resolution": f"Empty = no clock (e.g. 'next release'). Format: {DURATION_HELP}",
            "postmortem_deadline": f"After resolution. Format: {DURATION_HELP}",
        }


class PolicySettingsForm(ServiceSavedForm):
    class Meta:
        model = PolicySettings
        fields = (
            "assessment_due",
            "update_reminder_lead",
            "extended_outage_after",
            "extended_update_interval",
            "maintenance_buffer_pct",
            "traffic_profile",
        )

    def save_through_service(self, changes: dict[str, Any]) -> PolicySettings:
        return policy_settings_update(changes=changes, actor=self.actor)
