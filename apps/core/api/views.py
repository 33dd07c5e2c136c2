from __future__ import annotations

from typing import cast

from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from apps.core.api.errors import error_body, error_responses
from apps.core.models import ApiKey
from apps.core.tenancy import current_tenant


class ApiRootView(APIView):
    """Which tenant and key this is, and where the API's parts are."""

    @extend_schema(
        operation_id="api_root",
        responses={
            200: inline_serializer(
                name="ApiRoot",
                fields={
                    "tenant": serializers.CharField(),
                    "api_key": serializers.CharField(),
                    "role": serializers.CharField(),
                    "links": serializers.DictField(child=serializers.URLField()),
                },
            ),
            **error_responses(401),
        },
    )
    def get(self, request: Request) -> Response:
        key = cast(ApiKey, request.auth)
        return Response(
            {
                "tenant": current_tenant().slug,
                "api_key": key.name,
                "role": key.role,
                "links": {"schema": reverse("api-schema", request=request)},
            }
        )


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        error_body("not_found", f"There is no API endpoint at {request.path}."), status=404
    )
