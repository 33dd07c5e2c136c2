"""Messages in the API: `GET /api/v1/incidents/{id}/messages/`, `GET /api/v1/messages/{id}/`,
`POST /api/v1/messages/{id}/approve/` (an approver's key: approves and starts sending),
`POST /api/v1/messages/{id}/cancel/`."""

from __future__ import annotations

from typing import cast

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from apps.communications import selectors, services
from apps.communications.api.serializers import MessageSerializer
from apps.communications.models import Message
from apps.core.api.errors import error_responses
from apps.core.api.permissions import ApproverPermission, RolePermission
from apps.core.exceptions import NotFound
from apps.core.models import ApiKey
from apps.incidents.models import Incident


def _message(pk: int) -> Message:
    message = Message.objects.filter(pk=pk).first()
    if message is None:
        raise NotFound(f"There is no message #{pk} in this tenant.")
    return message


class MessageViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    lookup_value_converter = "int"
    serializer_class = MessageSerializer
    queryset = Message.objects.none()

    @extend_schema(
        operation_id="messages_retrieve",
        responses={200: MessageSerializer, **error_responses(401, 404)},
    )
    def retrieve(self, request: Request, pk: int) -> Response:
        return Response(MessageSerializer(_message(pk)).data)

    @extend_schema(
        operation_id="messages_approve",
        request=None,
        responses={200: MessageSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, ApproverPermission])
    def approve(self, request: Request, pk: int) -> Response:
        message = services.message_publish(
            message=_message(pk), approver=True, actor=cast(ApiKey, request.auth)
        )
        return Response(MessageSerializer(message).data)

    @extend_schema(
        operation_id="messages_cancel",
        request=None,
        responses={200: MessageSerializer, **error_responses(401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, RolePermission])
    def cancel(self, request: Request, pk: int) -> Response:
        message = services.message_cancel(message=_message(pk), actor=cast(ApiKey, request.auth))
        return Response(MessageSerializer(message).data)


class IncidentMessagesView(viewsets.GenericViewSet):  # type: ignore[type-arg]
    serializer_class = MessageSerializer
    queryset = Message.objects.none()

    @extend_schema(
        operation_id="incidents_messages_list",
        tags=["messages"],
        responses={200: MessageSerializer(many=True), **error_responses(401, 404)},
    )
    def list(self, request: Request, incident_pk: int) -> Response:
        if not Incident.objects.filter(pk=incident_pk).exists():
            raise NotFound(f"There is no incident #{incident_pk} in this tenant.")
        page = self.paginate_queryset(selectors.messages_for_incident(incident_pk))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)
