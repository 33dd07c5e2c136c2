"""The incidents API (`/api/v1/`): services, regions, incidents with their updates and state
moves, maintenance windows. Each view parses its input with a serializer, calls one service
(or selector) and renders the result; the services' ApplicationErrors become the API's error
body in apps.core.api.errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar, cast

from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api.errors import ERROR_SERIALIZER, error_responses
from apps.core.exceptions import NotFound
from apps.core.models import ApiKey
from apps.incidents import selectors, services
from apps.incidents.api.serializers import (
    AttachSerializer,
    DetachSerializer,
    FalseAlarmSerializer,
    IncidentCreateSerializer,
    IncidentFilterSerializer,
    IncidentPatchSerializer,
    IncidentSerializer,
    IncidentUpdateCreateSerializer,
    IncidentUpdateSerializer,
    MaintenanceCancelSerializer,
    MaintenanceCreateSerializer,
    MaintenanceDetailSerializer,
    MaintenanceExtendSerializer,
    MaintenanceFilterSerializer,
    MaintenanceNoteSerializer,
    MaintenanceRescheduleSerializer,
    MaintenanceSerializer,
    MaintenanceUpdateCreateSerializer,
    MaintenanceUpdateSerializer,
    RegionSerializer,
    ReopenSerializer,
    ResolveSerializer,
    ServiceSerializer,
    SuggestedWindowSerializer,
    SuggestQuerySerializer,
    incident_context,
)
from apps.incidents.models import Incident, MaintenanceWindow, Region, Service

S = TypeVar("S", bound=serializers.BaseSerializer)  # type: ignore[type-arg]
M = TypeVar("M", bound=models.Model)

NO_SUCH_PAGE = {
    404: OpenApiResponse(ERROR_SERIALIZER, description="There is no such page of results.")
}


def _actor(request: Request) -> ApiKey:
    return cast(ApiKey, request.auth)


def _valid(serializer_class: type[S], data: Any) -> S:
    """The serializer, validated; a 400 with field errors otherwise."""
    form = serializer_class(data=data)
    form.is_valid(raise_exception=True)
    return form


def _found(queryset: QuerySet[M], what: str, **lookup: Any) -> M:
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise NotFound(f"There is no {what} in this tenant.")
    return obj


def _page(
    view: viewsets.GenericViewSet,  # type: ignore[type-arg]
    queryset: QuerySet[M],
    render: Callable[[list[M]], Any],
) -> Response:
    page = view.paginate_queryset(queryset)
    if page is None:  # pagination switched off in settings
        return Response(render(list(queryset)))
    return view.get_paginated_response(render(list(page)))


# --- catalog ------------------------------------------------------------------------------


class ServiceViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The tenant's services (status-page components), managed in the admin."""

    serializer_class = ServiceSerializer
    lookup_field = "slug"
    lookup_value_converter = "slug"

    def get_queryset(self) -> QuerySet[Service]:
        return selectors.services_list()

    def _render(self, rows: Iterable[Service]) -> Any:
        rows = list(rows)
        statuses = selectors.service_statuses(services=rows, public=False)
        return ServiceSerializer(rows, many=True, context={"statuses": statuses}).data

    @extend_schema(
        responses={200: ServiceSerializer(many=True), **error_responses(401), **NO_SUCH_PAGE}
    )
    def list(self, request: Request) -> Response:
        return _page(self, self.get_queryset(), self._render)

    @extend_schema(responses={200: ServiceSerializer, **error_responses(401, 404)})
    def retrieve(self, request: Request, slug: str) -> Response:
        service = _found(self.get_queryset(), f"service {slug!r}", slug=slug)
        return Response(self._render([service])[0])


class RegionViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The tenant's regions, managed in the admin."""

    serializer_class = RegionSerializer
    lookup_field = "code"
    lookup_value_converter = "slug"

    def get_queryset(self) -> QuerySet[Region]:
        return selectors.regions_list()

    @extend_schema(
        responses={200: RegionSerializer(many=True), **error_responses(401), **NO_SUCH_PAGE}
    )
    def list(self, request: Request) -> Response:
        return _page(self, self.get_queryset(), lambda rows: RegionSerializer(rows, many=True).data)

    @extend_schema(responses={200: RegionSerializer, **error_responses(401, 404)})
    def retrieve(self, request: Request, code: str) -> Response:
        region = _found(self.get_queryset(), f"region {code!r}", code=code)
        return Response(RegionSerializer(region).data)


# --- incidents ----------------------------------------------------------------------------

STATE_ERRORS = error_responses(400, 401, 403, 404, 409)


class IncidentViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The tenant's incidents (the staff view: internal fields included)."""

    serializer_class = IncidentSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Incident]:
        return selectors.incidents_list().prefetch_related("children")

    def get_object(self) -> Incident:
        pk = self.kwargs["pk"]
        return _found(self.get_queryset(), f"incident #{pk}", pk=pk)

    def _render(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=incident.pk)
        return Response(IncidentSerializer(fresh, context=incident_context()).data, status=code)

    @extend_schema(
        parameters=[IncidentFilterSerializer],
        responses={200: IncidentSerializer(many=True), **error_responses(400, 401), **NO_SUCH_PAGE},
    )
    def list(self, request: Request) -> Response:
        filters = _valid(IncidentFilterSerializer, request.query_params).validated_data
        context = incident_context()
        return _page(
            self,
            selectors.incidents_list(**filters).prefetch_related("children"),
            lambda rows: IncidentSerializer(rows, many=True, context=context).data,
        )

    @extend_schema(
        request=IncidentCreateSerializer,
        responses={
            201: OpenApiResponse(IncidentSerializer, description="The incident was opened."),
            200: OpenApiResponse(
                IncidentSerializer,
                description="An incident with this source and external_id exists already; it "
                "is returned unchanged.",
            ),
            **error_responses(400, 401, 403),
        },
    )
    def create(self, request: Request) -> Response:
        form = _valid(IncidentCreateSerializer, request.data)
        before = timezone.now()
        incident = services.incident_open(**form.validated_data, actor=_actor(request))
        opened = incident.created_at >= before
        return self._render(incident, status.HTTP_201_CREATED if opened else status.HTTP_200_OK)

    @extend_schema(responses={200: IncidentSerializer, **error_responses(401, 404)})
    def retrieve(self, request: Request, pk: int) -> Response:
        return self._render(self.get_object())

    @extend_schema(
        request=IncidentPatchSerializer,
        description="Edit descriptive fields, re-grade (`severity`, optional `reason`) and record "
        "the assessment (`root_cause_hypothesis`, `eta`) in one atomic change. The status is "
        "not edited here: post an update, or resolve, reopen or mark a false alarm.",
        responses={200: IncidentSerializer, **STATE_ERRORS},
    )
    def partial_update(self, request: Request, pk: int) -> Response:
        incident = self.get_object()
        form = _valid(IncidentPatchSerializer, request.data)
        data, actor = form.validated_data, _actor(request)
        # Each service is atomic on its own; together they must be too.
        with transaction.atomic():
            if edit := form.edit_arguments():
                incident = services.incident_edit(incident=incident, **edit, actor=actor)
            if "severity" in data:
                incident = services.incident_change_severity(
                    incident=incident,
                    severity=data["severity"],
                    reason=data.get("reason", ""),
                    actor=actor,
                )
            if assessment := form.assess_arguments():
                incident = services.incident_assess(incident=incident, **assessment, actor=actor)
        return self._render(incident)

    @extend_schema(
        request=None,
        description="Customers are affected: the incident leaves triage, becomes public and its "
        "update cadence starts.",
        responses={200: IncidentSerializer, **error_responses(401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], url_path="confirm-impact")
    def confirm_impact(self, request: Request, pk: int) -> Response:
        incident = services.incident_confirm_impact(
            incident=self.get_object(), actor=_actor(request)
        )
        return self._render(incident)

    @extend_schema(
        request=ResolveSerializer,
        description="Resolve the incident and its open children; affected services return to "
        "operational.",
        responses={200: IncidentSerializer, **STATE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: int) -> Response:
        incident = self.get_object()
        data = _valid(ResolveSerializer, request.data).validated_data
        services.incident_resolve(incident=incident, **data, actor=_actor(request))
        return self._render(incident)

    @extend_schema(
        request=FalseAlarmSerializer,
        description="Close the incident as a false alarm.",
        responses={200: IncidentSerializer, **STATE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="false-alarm")
    def false_alarm(self, request: Request, pk: int) -> Response:
        incident = self.get_object()
        note = _valid(FalseAlarmSerializer, request.data).validated_data["note"]
        incident = services.incident_mark_false_alarm(
            incident=incident, note=note, actor=_actor(request)
        )
        return self._render(incident)

    @extend_schema(
        request=AttachSerializer,
        description="Cascading failure: this incident joins `parent`'s thread and stops "
        "notifying customers on its own.",
        responses={200: IncidentSerializer, **STATE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def attach(self, request: Request, pk: int) -> Response:
        child = self.get_object()
        parent = _valid(AttachSerializer, request.data).validated_data["parent"]
        child = services.incident_attach_child(child=child, parent=parent, actor=_actor(request))
        return self._render(child)

    @extend_schema(
        request=DetachSerializer,
        description="Undo `attach`: this incident leaves its parent's thread and speaks for "
        "itself again (public on its own once its impact is confirmed; its cadence starts). "
        "An incident without a parent is returned unchanged.",
        responses={200: IncidentSerializer, **STATE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def detach(self, request: Request, pk: int) -> Response:
        child = self.get_object()
        reason = _valid(DetachSerializer, request.data).validated_data["reason"]
        child = services.incident_detach_child(child=child, reason=reason, actor=_actor(request))
        return self._render(child)

    @extend_schema(
        request=ReopenSerializer,
        description="The problem is back: a resolved incident returns to investigating.",
        responses={200: IncidentSerializer, **STATE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: int) -> Response:
        incident = self.get_object()
        reason = _valid(ReopenSerializer, request.data).validated_data["reason"]
        incident = services.incident_reopen(incident=incident, reason=reason, actor=_actor(request))
        return self._render(incident)


class IncidentUpdateViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """An incident's timeline."""

    serializer_class = IncidentUpdateSerializer

    def _incident(self) -> Incident:
        pk = self.kwargs["incident_id"]
        return _found(selectors.incidents_list(), f"incident #{pk}", pk=pk)

    @extend_schema(
        description="Every entry, internal notes included, newest first.",
        responses={
            200: IncidentUpdateSerializer(many=True),
            **error_responses(401, 404),
        },
    )
    def list(self, request: Request, incident_id: int) -> Response:
        return _page(
            self,
            selectors.incident_updates(self._incident()),
            lambda rows: IncidentUpdateSerializer(rows, many=True).data,
        )

    @extend_schema(
        request=IncidentUpdateCreateSerializer,
        description="Post a public message and/or an internal note, move the status, set the "
        "ETA and the promised next update, change component statuses.",
        responses={201: IncidentUpdateSerializer, **STATE_ERRORS},
    )
    def create(self, request: Request, incident_id: int) -> Response:
        incident = self._incident()
        form = _valid(IncidentUpdateCreateSerializer, request.data)
        update = services.incident_post_update(
            incident=incident, **form.validated_data, actor=_actor(request)
        )
        return Response(IncidentUpdateSerializer(update).data, status=status.HTTP_201_CREATED)


# --- maintenance --------------------------------------------------------------------------


class MaintenanceViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Scheduled maintenance windows."""

    serializer_class = MaintenanceDetailSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[MaintenanceWindow]:
        return selectors.maintenances_list().prefetch_related("updates")

    def get_object(self) -> MaintenanceWindow:
        pk = self.kwargs["pk"]
        return _found(self.get_queryset(), f"maintenance #{pk}", pk=pk)

    def _render(self, window: MaintenanceWindow, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=window.pk)
        return Response(MaintenanceDetailSerializer(fresh).data, status=code)

    @extend_schema(
        parameters=[MaintenanceFilterSerializer],
        responses={
            200: MaintenanceSerializer(many=True),
            **error_responses(400, 401),
            **NO_SUCH_PAGE,
        },
    )
    def list(self, request: Request) -> Response:
        filters = _valid(MaintenanceFilterSerializer, request.query_params).validated_data
        return _page(
            self,
            selectors.maintenances_list(**filters),
            lambda rows: MaintenanceSerializer(rows, many=True).data,
        )

    @extend_schema(
        request=MaintenanceCreateSerializer,
        responses={201: MaintenanceDetailSerializer, **error_responses(400, 401, 403)},
    )
    def create(self, request: Request) -> Response:
        form = _valid(MaintenanceCreateSerializer, request.data)
        window = services.maintenance_schedule(**form.validated_data, actor=_actor(request))
        return self._render(window, status.HTTP_201_CREATED)

    @extend_schema(responses={200: MaintenanceDetailSerializer, **error_responses(401, 404)})
    def retrieve(self, request: Request, pk: int) -> Response:
        return self._render(self.get_object())

    @extend_schema(
        request=MaintenanceNoteSerializer,
        description="The work has begun (a scheduled window only).",
        responses={200: MaintenanceDetailSerializer, **STATE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: int) -> Response:
        window = self.get_object()
        body = _valid(MaintenanceNoteSerializer, request.data).validated_data["body"]
        window = services.maintenance_start(window=window, body=body, actor=_actor(request))
        return self._render(window)

    @extend_schema(
        request=MaintenanceExtendSerializer,
        description="Move the planned end later (an overrun, or a longer plan).",
        responses={200: MaintenanceDetailSerializer, **STATE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def extend(self, request: Request, pk: int) -> Response:
        window = self.get_object()
        data = _valid(MaintenanceExtendSerializer, request.data).validated_data
        window = services.maintenance_extend(window=window, **data, actor=_actor(request))
        return self._render(window)

    @extend_schema(
        request=MaintenanceRescheduleSerializer,
        description="Move a window that has not started to another time; subscribers are told "
        "what moved. A started window is extended instead.",
        responses={200: MaintenanceDetailSerializer, **STATE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk: int) -> Response:
        window = self.get_object()
        data = _valid(MaintenanceRescheduleSerializer, request.data).validated_data
        window = services.maintenance_reschedule(window=window, **data, actor=_actor(request))
        return self._render(window)

    @extend_schema(
        request=MaintenanceNoteSerializer,
        description="The work is done (a started window only).",
        responses={200: MaintenanceDetailSerializer, **STATE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: int) -> Response:
        window = self.get_object()
        body = _valid(MaintenanceNoteSerializer, request.data).validated_data["body"]
        window = services.maintenance_complete(window=window, body=body, actor=_actor(request))
        return self._render(window)

    @extend_schema(
        request=MaintenanceCancelSerializer,
        description="Call off a window that has not started.",
        responses={200: MaintenanceDetailSerializer, **STATE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: int) -> Response:
        window = self.get_object()
        reason = _valid(MaintenanceCancelSerializer, request.data).validated_data["reason"]
        window = services.maintenance_cancel(window=window, reason=reason, actor=_actor(request))
        return self._render(window)

    @extend_schema(
        request=MaintenanceUpdateCreateSerializer,
        description="A progress note; `status` may move a started window to verifying (or back "
        "to in_progress).",
        responses={201: MaintenanceUpdateSerializer, **STATE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def updates(self, request: Request, pk: int) -> Response:
        window = self.get_object()
        data = _valid(MaintenanceUpdateCreateSerializer, request.data).validated_data
        update = services.maintenance_post_update(window=window, **data, actor=_actor(request))
        return Response(MaintenanceUpdateSerializer(update).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[SuggestQuerySerializer],
        description="A window for work estimated at `duration_minutes`: the estimate plus the "
        "tenant's buffer, starting at the quietest hour of the next 14 days by the tenant's "
        "traffic profile (tomorrow 02:00 UTC without one).",
        responses={200: SuggestedWindowSerializer, **error_responses(400, 401)},
    )
    @action(detail=False, methods=["get"])
    def suggest(self, request: Request) -> Response:
        minutes = _valid(SuggestQuerySerializer, request.query_params).validated_data
        duration = timedelta(minutes=minutes["duration_minutes"])
        window = selectors.maintenance_suggest_window(duration=duration)
        return Response(SuggestedWindowSerializer(window, context={"duration": duration}).data)
