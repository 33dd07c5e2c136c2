"""The platform admin (public schema, base domain only): tenants and their domains.

It is a separate AdminSite so that no tenant's admin ever lists platform tables, which are
reachable from every schema through PostgreSQL's search path.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from apps.accounts.admin import UserAdmin
from apps.accounts.models import User
from apps.core.exceptions import ValidationFailed
from apps.tenants.choices import Plan
from apps.tenants.models import Domain, Tenant
from apps.tenants.services import tenant_create


class PlatformAdminSite(admin.AdminSite):
    site_header = "Clarion platform"
    site_title = "Clarion platform"
    index_title = "Tenants and operations"


platform_site = PlatformAdminSite(name="platform")


class TenantCreateForm(forms.ModelForm):  # type: ignore[type-arg]
    domain = forms.CharField(required=False, help_text="Optional custom domain.")
    admin_email = forms.EmailField(required=False)
    admin_password = forms.CharField(required=False, widget=forms.PasswordInput)

    class Meta:
        model = Tenant
        fields = ("slug", "name", "plan")

    actor: Any = None  # set per request by TenantAdmin.get_form
    created: Tenant | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            self.created = tenant_create(
                slug=data["slug"],
                name=data["name"],
                plan=data.get("plan") or Plan.TEAM,
                domain=data.get("domain") or None,
                admin_email=data.get("admin_email") or None,
                admin_password=data.get("admin_password") or None,
                actor=self.actor,
            )
        except ValidationFailed as exc:
            for field, messages in exc.fields.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return data

    def validate_unique(self) -> None:
        """Uniqueness is the service's to check."""


class DomainInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Domain
    extra = 0


@admin.register(Tenant, site=platform_site)
class TenantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("slug", "name", "plan", "kind", "schema_name", "created")
    list_filter = ("plan", "kind")
    search_fields = ("slug", "name")
    readonly_fields = ("slug", "schema_name", "kind", "created")

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = type("TenantCreateForm", (TenantCreateForm,), {"actor": request.user})
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return (
                (
                    None,
                    {"fields": ("slug", "name", "plan", "domain", "admin_email", "admin_password")},
                ),
            )
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return [DomainInline] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
        else:  # created by tenant_create in the form's clean()
            obj.pk = form.created.pk
            obj.refresh_from_db()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


platform_site.register(User, UserAdmin)
platform_site.register(Group)
for model in (IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule):
    platform_site.register(model)
platform_site.register(PeriodicTask, PeriodicTaskAdmin)

# django-celery-beat registers its models on the default site, which serves tenants.
for model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
