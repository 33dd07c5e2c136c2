"""Maintenance windows in the portal: the list, scheduling one with a suggested window, its
page with its updates, and its actions (start, update, extend, reschedule, complete,
cancel)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from apps.core.exceptions import ApplicationError
from apps.incidents import selectors, services
from apps.incidents.admin.common import ActionPageAdmin, ObjectAction, humanise, submitted, utc
from apps.incidents.choices import ACTIVE_MAINTENANCE, MaintenanceStatus
from apps.incidents.forms import (
    MaintenanceCancelForm,
    MaintenanceCompleteForm,
    MaintenanceExtendForm,
    MaintenanceRescheduleForm,
    MaintenanceScheduleForm,
    MaintenanceStartForm,
    MaintenanceUpdateForm,
    SuggestWindowForm,
)
from apps.incidents.models import MaintenanceWindow

OPEN_MAINTENANCE = (MaintenanceStatus.SCHEDULED, *ACTIVE_MAINTENANCE)
DEFAULT_ESTIMATE_MINUTES = 60


def _start(request: HttpRequest, window: MaintenanceWindow, form: MaintenanceStartForm) -> str:
    services.maintenance_start(window=window, body=form.cleaned_data["body"], actor=request.user)
    return f"Maintenance #{window.pk} has started."


def _update(request: HttpRequest, window: MaintenanceWindow, form: MaintenanceUpdateForm) -> str:
    services.maintenance_post_update(
        window=window,
        body=form.cleaned_data["body"],
        status=form.status_value(),
        actor=request.user,
    )
    return f"The update is posted on maintenance #{window.pk}."


def _extend(request: HttpRequest, window: MaintenanceWindow, form: MaintenanceExtendForm) -> str:
    extended = services.maintenance_extend(
        window=window,
        new_end=form.cleaned_data["new_end"],
        reason=form.cleaned_data["reason"],
        actor=request.user,
    )
    return f"Maintenance #{window.pk} now ends at {utc(extended.scheduled_end)}."


def _reschedule(
    request: HttpRequest, window: MaintenanceWindow, form: MaintenanceRescheduleForm
) -> str:
    moved = services.maintenance_reschedule(
        window=window,
        scheduled_start=form.cleaned_data["scheduled_start"],
        scheduled_end=form.cleaned_data["scheduled_end"],
        reason=form.cleaned_data["reason"],
        actor=request.user,
    )
    return (
        f"Maintenance #{window.pk} now runs from {utc(moved.scheduled_start)} "
        f"to {utc(moved.scheduled_end)}."
    )


def _complete(
    request: HttpRequest, window: MaintenanceWindow, form: MaintenanceCompleteForm
) -> str:
    services.maintenance_complete(window=window, body=form.cleaned_data["body"], actor=request.user)
    return f"Maintenance #{window.pk} is complete."


def _cancel(request: HttpRequest, window: MaintenanceWindow, form: MaintenanceCancelForm) -> str:
    services.maintenance_cancel(
        window=window, reason=form.cleaned_data["reason"], actor=request.user
    )
    return f"Maintenance #{window.pk} is cancelled."


MAINTENANCE_ACTIONS: tuple[ObjectAction[MaintenanceWindow], ...] = (
    ObjectAction(
        "start",
        "Start",
        MaintenanceStartForm,
        _start,
        lambda w: w.status == MaintenanceStatus.SCHEDULED,
    ),
    ObjectAction(
        "post-update",
        "Post update",
        MaintenanceUpdateForm,
        _update,
        lambda w: w.status in OPEN_MAINTENANCE,
    ),
    ObjectAction(
        "extend", "Extend", MaintenanceExtendForm, _extend, lambda w: w.status in OPEN_MAINTENANCE
    ),
    ObjectAction(
        "reschedule",
        "Reschedule",
        MaintenanceRescheduleForm,
        _reschedule,
        lambda w: w.status == MaintenanceStatus.SCHEDULED,
    ),
    ObjectAction(
        "complete",
        "Complete",
        MaintenanceCompleteForm,
        _complete,
        lambda w: w.status in ACTIVE_MAINTENANCE,
    ),
    ObjectAction(
        "cancel",
        "Cancel maintenance",
        MaintenanceCancelForm,
        _cancel,
        lambda w: w.status == MaintenanceStatus.SCHEDULED,
    ),
)


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ActionPageAdmin):
    object_actions = MAINTENANCE_ACTIONS
    list_display = ("title", "status", "start", "end", "services_label", "expected_impact")
    list_filter = ("status", "expected_impact", "services")
    search_fields = ("title",)
    fieldsets = (
        (
            None,
            {"fields": ("title", "status", "expected_impact", "services_label", "regions_label")},
        ),
        ("When", {"fields": ("start", "end", "actual_start_label", "actual_end_label")}),
        ("Messages", {"fields": ("description", "customer_action", "contact_by_label")}),
        ("Origin", {"fields": ("created_by",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[MaintenanceWindow]:
        return super().get_queryset(request).prefetch_related("services", "regions")

    @admin.display(description="scheduled start", ordering="scheduled_start")
    def start(self, window: MaintenanceWindow) -> str:
        return utc(window.scheduled_start)

    @admin.display(description="scheduled end", ordering="scheduled_end")
    def end(self, window: MaintenanceWindow) -> str:
        return utc(window.scheduled_end)

    @admin.display(description="started")
    def actual_start_label(self, window: MaintenanceWindow) -> str:
        return utc(window.actual_start)

    @admin.display(description="ended")
    def actual_end_label(self, window: MaintenanceWindow) -> str:
        return utc(window.actual_end)

    @admin.display(description="contact us before")
    def contact_by_label(self, window: MaintenanceWindow) -> str:
        return utc(window.contact_by)

    @admin.display(description="services")
    def services_label(self, window: MaintenanceWindow) -> str:
        return ", ".join(s.name for s in window.services.all()) or "—"

    @admin.display(description="regions")
    def regions_label(self, window: MaintenanceWindow) -> str:
        return ", ".join(r.name for r in window.regions.all()) or "All regions"

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Schedule a window. The estimate (a GET form above the main one) gives a suggested
        window, pre-filled as start and end."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        estimate = SuggestWindowForm(
            request.GET or None, initial={"estimated_minutes": DEFAULT_ESTIMATE_MINUTES}
        )
        minutes: int | None = DEFAULT_ESTIMATE_MINUTES
        if estimate.is_bound:
            minutes = estimate.cleaned_data["estimated_minutes"] if estimate.is_valid() else None
        suggestion, initial = None, {}
        if minutes:
            suggestion = selectors.maintenance_suggest_window(duration=timedelta(minutes=minutes))
            initial = {"scheduled_start": suggestion.start, "scheduled_end": suggestion.end}
        form = MaintenanceScheduleForm(submitted(request), initial=initial)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                window = services.maintenance_schedule(
                    title=data["title"],
                    services=form.service_slugs(),
                    regions=form.region_codes(),
                    scheduled_start=data["scheduled_start"],
                    scheduled_end=data["scheduled_end"],
                    description=data["description"],
                    expected_impact=data["expected_impact"],
                    customer_action=data["customer_action"],
                    contact_by=data["contact_by"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.show_error(exc)
            else:
                messages.success(request, f"Maintenance #{window.pk} is scheduled.")
                return redirect(self.change_url(window))
        return self.render_form_page(
            request,
            form=form,
            title="Schedule maintenance",
            submit_label="Schedule",
            template="admin/incidents/maintenancewindow/add_form.html",
            extra={
                "estimate": estimate,
                "suggestion": suggestion,
                "suggestion_window": suggestion
                and f"{utc(suggestion.start)} to {utc(suggestion.end)}",
                "suggestion_length": suggestion and humanise(suggestion.buffered_duration),
            },
        )

    def page_context(self, request: HttpRequest, obj: MaintenanceWindow) -> dict[str, Any]:
        return {
            "maintenance_updates": [
                {
                    "when": utc(u.created_at),
                    "status": u.get_status_display(),
                    "author": u.author_label or "system",
                    "body": u.body,
                }
                for u in obj.updates.all()
            ]
        }
