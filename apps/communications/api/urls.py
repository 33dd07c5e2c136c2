from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.communications.api.views import IncidentMessagesView, MessageViewSet

router = SimpleRouter()
router.register("messages", MessageViewSet, basename="message")

urlpatterns = [
    *router.urls,
    path(
        "incidents/<int:incident_pk>/messages/",
        IncidentMessagesView.as_view({"get": "list"}),
        name="incident-messages",
    ),
]
