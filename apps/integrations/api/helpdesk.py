"""`GET /api/v1/incidents/{id}/canned-response/`: what support answers about an incident
(`?locale=fr` for another locale the tenant has a template for; English otherwise), plus
what Clarion did in the help desk."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api.errors import error_responses
from apps.core.exceptions import NotFound
from apps.incidents.models import Incident
from apps.integrations.services.canned import DEFAULT_LOCALE, canned_response_for
from apps.integrations.services.helpdesk import helpdesk_counts


class HelpdeskCountsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    flagged = serializers.IntegerField(help_text="Tickets linked to the incident.")
    replied = serializers.IntegerField(help_text="Tickets answered with the canned response.")
    auto_closed = serializers.IntegerField(help_text="Tickets solved on resolve.")
    left_open = serializers.IntegerField(help_text="Tickets left open for a person.")


class CannedResponseSerializer(serializers.Serializer):  # type: ignore[type-arg]
    incident = serializers.IntegerField()
    locale = serializers.CharField()
    text = serializers.CharField(help_text="Plain text, from the incident's public state.")
    updated_at = serializers.DateTimeField()
    helpdesk = HelpdeskCountsSerializer()


class IncidentCannedResponseView(viewsets.GenericViewSet):  # type: ignore[type-arg]
    serializer_class = CannedResponseSerializer
    queryset = Incident.objects.none()

    @extend_schema(
        operation_id="incidents_canned_response_retrieve",
        tags=["helpdesk"],
        parameters=[
            OpenApiParameter("locale", str, description="e.g. fr; default en", required=False)
        ],
        responses={200: CannedResponseSerializer, **error_responses(401, 404)},
    )
    def retrieve(self, request: Request, incident_pk: int) -> Response:
        incident = Incident.objects.filter(pk=incident_pk).first()
        if incident is None:
            raise NotFound(f"There is no incident #{incident_pk} in this tenant.")
        locale = str(request.query_params.get("locale") or DEFAULT_LOCALE)[:20]
        row = canned_response_for(incident=incident, locale=locale)
        body = {
            "incident": incident.pk,
            "locale": row.locale,
            "text": row.text,
            "updated_at": row.updated_at,
            "helpdesk": helpdesk_counts(incident),
        }
        return Response(CannedResponseSerializer(body).data)
