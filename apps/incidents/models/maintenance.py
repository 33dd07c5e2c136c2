"""Scheduled maintenance windows and their updates."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.incidents.choices import ACTIVE_MAINTENANCE, ExpectedImpact, MaintenanceStatus
from apps.incidents.models.catalog import Region, Service


class MaintenanceQuerySet(models.QuerySet["MaintenanceWindow"]):
    def active(self) -> MaintenanceQuerySet:
        return self.filter(status__in=ACTIVE_MAINTENANCE)

    def upcoming(self) -> MaintenanceQuerySet:
        return self.filter(status=MaintenanceStatus.SCHEDULED)


class MaintenanceWindow(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    services = models.ManyToManyField(Service, related_name="maintenance_windows")
    regions = models.ManyToManyField(
        Region, blank=True, related_name="maintenance_windows", help_text="None = all regions."
    )
    scheduled_start = models.DateTimeField()
    scheduled_end = models.DateTimeField()
    expected_impact = models.CharField(
        max_length=20, choices=ExpectedImpact.choices, default=ExpectedImpact.DEGRADED
    )
    customer_action = models.TextField(blank=True, help_text="What customers should do.")
    contact_by = models.DateTimeField(
        null=True, blank=True, help_text="Customers with concerns should write before this."
    )
    status = models.CharField(
        max_length=20,
        choices=MaintenanceStatus.choices,
        default=MaintenanceStatus.SCHEDULED,
        db_index=True,
    )
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The end customers were told before it started (set when it starts). An "
        "extension while it runs is an overrun, measured from here; `scheduled_end` moves.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MaintenanceQuerySet.as_manager()

    class Meta:
        ordering = ("-scheduled_start", "-id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scheduled_end__gt=models.F("scheduled_start")),
                name="maintenance_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.title


class MaintenanceUpdate(models.Model):
    window = models.ForeignKey(MaintenanceWindow, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=20, choices=MaintenanceStatus.choices)
    body = models.TextField(blank=True)
    author_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.window_id} {self.status}"
