from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from apps.core.api.views import ApiRootView

urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    path("", include("apps.incidents.api.urls")),
    path("", include("apps.subscribers.api.urls")),
    path("", include("apps.integrations.api.urls")),
    path("", include("apps.communications.api.urls")),
    path("", include("apps.postmortems.api.urls")),
]
