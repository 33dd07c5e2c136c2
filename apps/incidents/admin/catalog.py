"""What the tenant runs: regions, service groups and services (with their current status,
derived from open incidents and maintenance)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.incidents import selectors
from apps.incidents.choices import ComponentStatus
from apps.incidents.models import Region, Service, ServiceGroup

STATUS_ATTR = "_portal_status"


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "time_zone")
    search_fields = ("code", "name")


@admin.register(ServiceGroup)
class ServiceGroupAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "position")
    list_editable = ("position",)
    search_fields = ("name",)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "slug", "group", "current_status", "position", "showcase")
    list_filter = ("group", "regions")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fields = (
        "name",
        "slug",
        "description",
        "group",
        "position",
        "regions",
        "showcase",
        "only_show_if_degraded",
        "start_date",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Service]:
        return super().get_queryset(request).select_related("group")

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """The page's statuses in one go (two queries), as staff see them: unconfirmed
        incidents count too."""
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        statuses = selectors.service_statuses(services=rows, public=False)
        for service in rows:
            setattr(service, STATUS_ATTR, statuses.get(service.pk))
        return changelist

    @admin.display(description="current status")
    def current_status(self, service: Service) -> SafeString:
        status = getattr(service, STATUS_ATTR, None)
        if status is None:
            status = selectors.service_statuses(services=[service], public=False)[service.pk]
        return format_html(
            '<span class="clarion-status clarion-status-{}">{}</span>',
            status,
            ComponentStatus(status).label,
        )
