"""Incidents in the portal: the list with its clocks and filters, opening one, and its page
(fields, clocks, times, children, timeline; the actions are in incident_actions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from apps.core.exceptions import ApplicationError
from apps.incidents import selectors, services
from apps.incidents.admin.common import ActionPageAdmin, clock, humanise, submitted, utc
from apps.incidents.admin.incident_actions import INCIDENT_ACTIONS
from apps.incidents.choices import OPEN_STATUSES, ComponentStatus, IncidentStatus
from apps.incidents.forms import IncidentOpenForm
from apps.incidents.models import Incident, IncidentUpdate, Region, Service
from apps.incidents.selectors import IncidentClocks

COMPONENT_LABELS = dict(ComponentStatus.choices)
CLOCKS_ATTR = "_portal_clocks"


# --- list filters -------------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open (not resolved)"), *IncidentStatus.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        value = self.value()
        if value == "open":
            return queryset.filter(status__in=OPEN_STATUSES)
        return queryset.filter(status=value) if value else queryset


class ServiceFilter(admin.SimpleListFilter):
    title = "affected service"
    parameter_name = "service"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(s.slug, s.name) for s in Service.objects.all()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(pk__in=selectors.incidents_list(service=value).values("pk"))


class RegionFilter(admin.SimpleListFilter):
    title = "region (all-region incidents included)"
    parameter_name = "region"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(r.code, r.name) for r in Region.objects.all()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(pk__in=selectors.incidents_list(region=value).values("pk"))


# --- what the list and the page show -----------------------------------------------------


def _clocks(incident: Incident) -> IncidentClocks:
    """The clocks the changelist computed for its page (see get_changelist_instance)."""
    found = getattr(incident, CLOCKS_ATTR, None)
    return found if found is not None else selectors.incident_clocks(incident)


def assessment_cell(incident: Incident, clocks: IncidentClocks, now: datetime) -> Any:
    if incident.assessed_at is not None:
        when = utc(incident.assessed_at)
        return format_html('assessed<br><small class="clarion-when">{}</small>', when)
    return clock(clocks.assessment_due, overdue=clocks.assessment_overdue, now=now)


def next_update_cell(incident: Incident, clocks: IncidentClocks, now: datetime) -> Any:
    if not incident.is_open:
        return "—"
    if not incident.customer_impact_confirmed:
        return "internal (impact not confirmed)"
    if clocks.next_update_due is None:
        return "no cadence"
    cell = clock(clocks.next_update_due, overdue=clocks.update_overdue, now=now)
    if clocks.extended_outage:
        return format_html('{}<br><span class="clarion-overdue">extended outage</span>', cell)
    return cell


def status_label(incident: Incident) -> str:
    label = incident.get_status_display()
    return f"{label} (false alarm)" if incident.false_alarm else label


def _change(value: dict[str, Any]) -> str:
    old, new = value.get("old_status", ""), value.get("new_status", "")
    name = value.get("name") or value.get("service", "")
    return f"{name}: {COMPONENT_LABELS.get(old, old)} → {COMPONENT_LABELS.get(new, new)}"


def timeline_entry(update: IncidentUpdate) -> dict[str, Any]:
    return {
        "when": utc(update.display_at),
        "status": update.get_status_display(),
        "author": update.author_label or "system",
        "body": update.body,
        "internal_note": update.internal_note,
        "changes": [_change(c) for c in update.component_changes or []],
        "eta": utc(update.eta, empty=""),
        "next_update_at": utc(update.next_update_at, empty=""),
        "notify": update.deliver_notifications,
    }


@admin.register(Incident)
class IncidentAdmin(ActionPageAdmin):
    object_actions = INCIDENT_ACTIONS
    list_display = (
        "id",
        "title",
        "affected_services",
        "severity",
        "status_column",
        "age",
        "assessment",
        "next_update",
        "impact_confirmed",
        "commander",
    )
    list_display_links = ("id", "title")
    list_filter = ("severity", StatusFilter, ServiceFilter, RegionFilter)
    search_fields = ("title", "internal_title")
    list_per_page = 50
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "title",
                    "internal_title",
                    "severity",
                    "status_column",
                    "customer_impact_confirmed",
                    "commander",
                    "parent",
                )
            },
        ),
        (
            "Impact",
            {
                "fields": (
                    "affected_services",
                    "regions_label",
                    "impact_scope",
                    "root_cause_hypothesis",
                    "eta_label",
                )
            },
        ),
        ("Origin", {"fields": ("source", "external_id")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        return (
            super()
            .get_queryset(request)
            .select_related("commander", "parent")
            .prefetch_related("affected__service", "regions")
        )

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """Clocks for the page's rows from the policy read once, not once per row."""
        changelist = super().get_changelist_instance(request)
        settings, policies = selectors.policy_settings(), selectors.policies_by_level()
        now = timezone.now()
        for incident in changelist.result_list:
            clocks = selectors.incident_clocks(
                incident, now=now, settings=settings, policy=policies[incident.severity]
            )
            setattr(incident, CLOCKS_ATTR, clocks)
        return changelist

    # --- columns and read-only fields -----------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_column(self, incident: Incident) -> str:
        return status_label(incident)

    @admin.display(description="services")
    def affected_services(self, incident: Incident) -> SafeString | str:
        rows = list(incident.affected.all())
        if not rows:
            return "—"
        return format_html_join(
            ", ",
            "{} ({})",
            ((row.service.name, row.get_component_status_display().lower()) for row in rows),
        )

    @admin.display(description="age", ordering="started_at")
    def age(self, incident: Incident) -> str:
        if incident.resolved_at is not None:
            return f"lasted {humanise(incident.resolved_at - incident.started_at)}"
        return humanise(timezone.now() - incident.started_at)

    @admin.display(description="assessment")
    def assessment(self, incident: Incident) -> Any:
        return assessment_cell(incident, _clocks(incident), timezone.now())

    @admin.display(description="next update due", ordering="next_update_due")
    def next_update(self, incident: Incident) -> Any:
        return next_update_cell(incident, _clocks(incident), timezone.now())

    @admin.display(
        description="impact confirmed", boolean=True, ordering="customer_impact_confirmed"
    )
    def impact_confirmed(self, incident: Incident) -> bool:
        return incident.customer_impact_confirmed

    @admin.display(description="regions")
    def regions_label(self, incident: Incident) -> str:
        return ", ".join(r.name for r in incident.regions.all()) or "All regions"

    @admin.display(description="customers affected")
    def impact_scope(self, incident: Incident) -> str:
        pct = incident.impact_scope_pct
        return "unknown" if pct is None else f"{pct}%"

    @admin.display(description="ETA")
    def eta_label(self, incident: Incident) -> str:
        if incident.eta:
            return utc(incident.eta)
        return f"unknown since {utc(incident.eta_unknown_since)}"

    # --- opening --------------------------------------------------------------------------

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = IncidentOpenForm(submitted(request), initial={"commander": request.user.pk})
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                incident = services.incident_open(
                    title=data["title"],
                    severity=data["severity"],
                    services=form.service_statuses(),
                    regions=form.region_codes(),
                    internal_title=data["internal_title"],
                    impact_scope_pct=data["impact_scope_pct"],
                    body=data["body"],
                    commander=data["commander"],
                    customer_impact_confirmed=data["customer_impact_confirmed"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.show_error(exc)
            else:
                messages.success(request, f"Incident #{incident.pk} is open.")
                return redirect(self.change_url(incident))
        return self.render_form_page(
            request, form=form, title="Open an incident", submit_label="Open incident"
        )

    # --- the incident's page --------------------------------------------------------------

    def page_context(self, request: HttpRequest, obj: Incident) -> dict[str, Any]:
        now = timezone.now()
        clocks = selectors.incident_clocks(obj, now=now)
        extended = ""
        if clocks.extended_outage:
            extended = f"Extended outage since {utc(clocks.extended_since)}"
        elif clocks.extended_since:
            extended = f"Becomes an extended outage at {utc(clocks.extended_since)} without an ETA"
        return {
            "clocks": [
                ("Assessment", assessment_cell(obj, clocks, now)),
                ("Next update due", next_update_cell(obj, clocks, now)),
                (
                    "Target resolution",
                    clock(
                        clocks.target_resolution_due,
                        overdue=clocks.target_resolution_overdue,
                        now=now,
                    ),
                ),
                ("Extended outage", extended or "—"),
            ],
            "times": [
                ("Started", utc(obj.started_at)),
                ("Detected", utc(obj.detected_at)),
                ("Acknowledged", utc(obj.acknowledged_at)),
                ("Assessed", utc(obj.assessed_at)),
                ("Impact confirmed", utc(obj.impact_confirmed_at)),
                ("Monitoring", utc(obj.monitoring_at)),
                ("Resolved", utc(obj.resolved_at)),
            ],
            "children": [
                (self.change_url(child), str(child), status_label(child))
                for child in obj.children.all()
            ],
            "timeline": [timeline_entry(u) for u in obj.updates.all()],
        }
