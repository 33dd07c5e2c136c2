"""`/api/v1/integrations/`: list the tenant's monitoring integrations and create one (its
token and secret are in the create response only)."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api.errors import error_responses
from apps.core.exceptions import NotFound
from apps.core.models import ApiKey
from apps.integrations.api.serializers import (
    IntegrationCreatedSerializer,
    IntegrationCreateSerializer,
    IntegrationSerializer,
)
from apps.integrations.models import Integration
from apps.integrations.selectors import integrations_list
from apps.integrations.services import integration_create


class IntegrationViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    serializer_class = IntegrationSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Integration]:
        return integrations_list()

    @extend_schema(responses={200: IntegrationSerializer(many=True), **error_responses(401)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = IntegrationSerializer(page, many=True).data
        return self.get_paginated_response(rows)

    @extend_schema(responses={200: IntegrationSerializer, **error_responses(401, 404)})
    def retrieve(self, request: Request, pk: int) -> Response:
        integration = self.get_queryset().filter(pk=pk).first()
        if integration is None:
            raise NotFound(f"There is no integration #{pk} in this tenant.")
        return Response(IntegrationSerializer(integration).data)

    @extend_schema(
        request=IntegrationCreateSerializer,
        responses={
            201: OpenApiResponse(
                IntegrationCreatedSerializer,
                description="Created; the token and secret are shown this once.",
            ),
            **error_responses(400, 401, 403, 409),
        },
    )
    def create(self, request: Request) -> Response:
        form = IntegrationCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(form.validated_data)
        integration, secret = integration_create(**data, actor=cast(ApiKey, request.auth))
        body = dict(IntegrationCreatedSerializer(integration).data)
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)
