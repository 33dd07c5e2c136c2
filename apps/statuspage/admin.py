from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from apps.statuspage.models import PageBranding


@admin.register(PageBranding)
class PageBrandingAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    fields = ("logo_url", "accent_color", "footer_links")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not PageBranding.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: object = None):  # type: ignore[no-untyped-def]
        branding, _ = PageBranding.objects.get_or_create(pk=PageBranding.singleton_pk)
        return HttpResponseRedirect(
            reverse("admin:statuspage_pagebranding_change", args=[branding.pk])
        )
