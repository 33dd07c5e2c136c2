"""URLs on a tenant's host: its status page, its staff admin, its API."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Clarion"
admin.site.site_title = "Clarion"

urlpatterns = [
    path("", include("apps.statuspage.urls")),
    path("", include("apps.subscribers.urls")),
    path("hooks/", include("apps.integrations.urls")),
    # Bounces and complaints from the e-mail provider (anymail tracking webhooks).
    path("anymail/", include("apps.communications.tracking")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("apps.core.api.urls")),
]

handler404 = "apps.core.views.not_found"
