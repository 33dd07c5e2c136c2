from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.integrations.api.helpdesk import IncidentCannedResponseView
from apps.integrations.api.views import IntegrationViewSet

router = SimpleRouter(use_regex_path=False)
router.register("integrations", IntegrationViewSet, basename="integration")

urlpatterns = [
    *router.urls,
    path(
        "incidents/<int:incident_pk>/canned-response/",
        IncidentCannedResponseView.as_view({"get": "retrieve"}),
        name="incident-canned-response",
    ),
]
