from django.urls import path

from apps.statuspage import views

urlpatterns = [
    *(path(p.lstrip("/"), views.cached, name=f"statuspage{p}") for p in views.BUILDERS),
    path("incidents/<int:incident_id>/", views.incident_page, name="statuspage-incident"),
    path("history/", views.history, name="statuspage-history"),
    path("api/v2/banner.json", views.banner, name="statuspage-banner"),
    path("widget.js", views.widget, name="statuspage-widget"),
]
