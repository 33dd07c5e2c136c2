"""`GET /api/v1/analytics/`: the analytics page's numbers as JSON."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.errors import error_responses
from apps.postmortems.analytics import analytics
from apps.postmortems.api.serializers import AnalyticsQuerySerializer, AnalyticsSerializer


class AnalyticsView(APIView):
    @extend_schema(
        operation_id="analytics_retrieve",
        tags=["analytics"],
        parameters=[AnalyticsQuerySerializer],
        description="MTTA and MTTR by severity and month, incidents by severity, update "
        "cadence adherence, SLA credits, deliveries by channel and help-desk tickets: the "
        "numbers of the portal's analytics page.",
        responses={200: AnalyticsSerializer, **error_responses(400, 401)},
    )
    def get(self, request: Request) -> Response:
        query = AnalyticsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(analytics(months=query.validated_data["months"]))
