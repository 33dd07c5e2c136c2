"""What a tenant runs: services (status-page components), their groups, and regions."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError
from django.db import models


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(
            f"{value!r} is not an IANA time zone; use a name such as 'Europe/Paris'.",
            code="invalid_time_zone",
        )


class Region(models.Model):
    code = models.SlugField(max_length=20, unique=True, help_text="e.g. us, eu, apac")
    name = models.CharField(max_length=100)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])

    class Meta:
        ordering = ("code",)

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class ServiceGroup(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("position", "name")

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """A component on the status page. Its status is derived from open incidents and
    maintenance (see selectors.service_statuses), never stored."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    group = models.ForeignKey(
        ServiceGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="services"
    )
    position = models.PositiveIntegerField(default=0)
    only_show_if_degraded = models.BooleanField(default=False)
    showcase = models.BooleanField(default=True)
    start_date = models.DateField(null=True, blank=True)
    regions = models.ManyToManyField(
        Region, blank=True, related_name="services", help_text="Where it runs; none = everywhere."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("group__position", "position", "name")

    def __str__(self) -> str:
        return self.name
