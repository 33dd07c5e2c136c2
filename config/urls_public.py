"""URLs on the base domain (public schema): the platform operator's admin."""

from django.urls import path
from django.views.generic import RedirectView

from apps.tenants.admin import platform_site

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", platform_site.urls),
]
