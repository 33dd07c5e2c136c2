"""The customers, subscribers and segments API (`/api/v1/`). Each view parses its input with
a serializer, calls one service (or selector) and renders the result."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api.errors import error_responses
from apps.incidents.api.views import NO_SUCH_PAGE, _actor, _found, _page, _valid
from apps.subscribers import selectors, services
from apps.subscribers.api.serializers import (
    CustomerFilterSerializer,
    CustomerPatchSerializer,
    CustomerSerializer,
    CustomerUpsertSerializer,
    SegmentCreateSerializer,
    SegmentPatchSerializer,
    SegmentPreviewQuerySerializer,
    SegmentPreviewSerializer,
    SegmentSerializer,
    SubscriberCreateSerializer,
    SubscriberFilterSerializer,
    SubscriberPatchSerializer,
    SubscriberSerializer,
    UnsubscribeSerializer,
)
from apps.subscribers.choices import SubscriberSource
from apps.subscribers.models import Customer, Segment, Subscriber

DELETED = {204: OpenApiResponse(None, description="Deleted.")}


def _without_none_filters(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


# --- customers ----------------------------------------------------------------------------


class CustomerViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The tenant's customers (accounts), by external key."""

    serializer_class = CustomerSerializer
    lookup_field = "external_key"
    lookup_value_converter = "str"

    def get_queryset(self) -> QuerySet[Customer]:
        return selectors.customers_list()

    def get_object(self) -> Customer:
        key = self.kwargs["external_key"]
        return _found(self.get_queryset(), f"customer with the key {key!r}", external_key=key)

    @extend_schema(
        parameters=[CustomerFilterSerializer],
        responses={200: CustomerSerializer(many=True), **error_responses(400, 401), **NO_SUCH_PAGE},
    )
    def list(self, request: Request) -> Response:
        filters = _valid(CustomerFilterSerializer, request.query_params).validated_data
        return _page(
            self,
            selectors.customers_list(**_without_none_filters(dict(filters))),
            lambda rows: CustomerSerializer(rows, many=True).data,
        )

    @extend_schema(
        request=CustomerUpsertSerializer,
        description="Create the customer, or update the one with this `external_key` (fields "
        "left out keep their value), as a sync from your own customer list would.",
        responses={
            201: OpenApiResponse(CustomerSerializer, description="The customer was created."),
            200: OpenApiResponse(
                CustomerSerializer, description="A customer with this key existed; updated."
            ),
            **error_responses(400, 401, 403),
        },
    )
    def create(self, request: Request) -> Response:
        data = _valid(CustomerUpsertSerializer, request.data).validated_data
        customer, outcome = services.customer_upsert(**data, actor=_actor(request))
        code = status.HTTP_201_CREATED if outcome == "added" else status.HTTP_200_OK
        return Response(CustomerSerializer(customer).data, status=code)

    @extend_schema(responses={200: CustomerSerializer, **error_responses(401, 404)})
    def retrieve(self, request: Request, external_key: str) -> Response:
        return Response(CustomerSerializer(self.get_object()).data)

    @extend_schema(
        request=CustomerPatchSerializer,
        responses={200: CustomerSerializer, **error_responses(400, 401, 403, 404)},
    )
    def partial_update(self, request: Request, external_key: str) -> Response:
        customer = self.get_object()
        data = _valid(CustomerPatchSerializer, request.data).validated_data
        customer, _ = services.customer_upsert(
            external_key=customer.external_key, **data, actor=_actor(request)
        )
        return Response(CustomerSerializer(customer).data)

    @extend_schema(
        description="Only a customer without subscribers; deactivate it (`active: false`) "
        "otherwise.",
        responses={**DELETED, **error_responses(401, 403, 404, 409)},
    )
    def destroy(self, request: Request, external_key: str) -> Response:
        services.customer_delete(customer=self.get_object(), actor=_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- subscribers --------------------------------------------------------------------------


class SubscriberViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The people and endpoints that hear about incidents and maintenance."""

    serializer_class = SubscriberSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Subscriber]:
        return selectors.subscribers_list()

    def get_object(self) -> Subscriber:
        pk = self.kwargs["pk"]
        return _found(self.get_queryset(), f"subscriber #{pk}", pk=pk)

    def _render(
        self, subscriber: Subscriber, code: int = status.HTTP_200_OK, *, reveal: bool = False
    ) -> Response:
        fresh = self.get_queryset().get(pk=subscriber.pk)
        data = SubscriberSerializer(fresh, context={"reveal_secret": reveal}).data
        return Response(data, status=code)

    @extend_schema(
        parameters=[SubscriberFilterSerializer],
        responses={
            200: SubscriberSerializer(many=True),
            **error_responses(400, 401),
            **NO_SUCH_PAGE,
        },
    )
    def list(self, request: Request) -> Response:
        filters = _valid(SubscriberFilterSerializer, request.query_params).validated_data
        return _page(
            self,
            selectors.subscribers_list(**_without_none_filters(dict(filters))),
            lambda rows: SubscriberSerializer(rows, many=True).data,
        )

    @extend_schema(
        request=SubscriberCreateSerializer,
        description="Subscribe someone (source `api`). With `skip_confirmation: true` the "
        "subscriber is confirmed at once, as when you bring your own customer list; otherwise "
        "it receives nothing until it confirms.",
        responses={201: SubscriberSerializer, **error_responses(400, 401, 403, 409)},
    )
    def create(self, request: Request) -> Response:
        data = dict(_valid(SubscriberCreateSerializer, request.data).validated_data)
        confirmed = data.pop("skip_confirmation")
        subscriber = services.subscriber_create(
            **data, source=SubscriberSource.API, confirmed=confirmed, actor=_actor(request)
        )
        return self._render(subscriber, status.HTTP_201_CREATED, reveal=True)

    @extend_schema(responses={200: SubscriberSerializer, **error_responses(401, 404)})
    def retrieve(self, request: Request, pk: int) -> Response:
        return self._render(self.get_object())

    @extend_schema(
        request=SubscriberPatchSerializer,
        responses={200: SubscriberSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: int) -> Response:
        subscriber = self.get_object()
        data = _valid(SubscriberPatchSerializer, request.data).validated_data
        updated = services.subscriber_update(subscriber=subscriber, **data, actor=_actor(request))
        new_secret = updated.webhook_secret != subscriber.webhook_secret
        return self._render(updated, reveal=new_secret)

    @extend_schema(
        description="Erase the subscriber (its suppressed addresses stay suppressed).",
        responses={**DELETED, **error_responses(401, 403, 404)},
    )
    def destroy(self, request: Request, pk: int) -> Response:
        services.subscriber_delete(subscriber=self.get_object(), actor=_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        description="Confirm a pending subscriber: you vouch that the person agreed. Someone "
        "who unsubscribed can only come back by themselves (409).",
        responses={200: SubscriberSerializer, **error_responses(401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: int) -> Response:
        subscriber = services.subscriber_confirm(
            subscriber=self.get_object(), actor=_actor(request)
        )
        return self._render(subscriber)

    @extend_schema(
        request=None,
        description="Deliver to the subscriber's webhook endpoint again after it was turned "
        "off for failing (its owner says it is fixed); the failure count starts from zero. "
        "409 when the subscriber has no webhook URL.",
        responses={200: SubscriberSerializer, **error_responses(401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], url_path="webhook-enable")
    def webhook_enable(self, request: Request, pk: int) -> Response:
        subscriber = services.subscriber_webhook_enable(
            subscriber=self.get_object(), actor=_actor(request)
        )
        return self._render(subscriber)

    @extend_schema(
        request=UnsubscribeSerializer,
        description="Stop all messages to the subscriber and suppress its e-mail address and "
        "phone number.",
        responses={200: SubscriberSerializer, **error_responses(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def unsubscribe(self, request: Request, pk: int) -> Response:
        subscriber = self.get_object()
        note = _valid(UnsubscribeSerializer, request.data).validated_data["note"]
        subscriber = services.subscriber_unsubscribe(
            subscriber=subscriber, note=note, actor=_actor(request)
        )
        return self._render(subscriber)


# --- segments -----------------------------------------------------------------------------


class SegmentViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Saved audiences: customer tiers, regions, services and customers."""

    serializer_class = SegmentSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[Segment]:
        return selectors.segments_list()

    def get_object(self) -> Segment:
        pk = self.kwargs["pk"]
        return _found(self.get_queryset(), f"segment #{pk}", pk=pk)

    def _render(self, segment: Segment, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=segment.pk)
        return Response(SegmentSerializer(fresh).data, status=code)

    @extend_schema(
        responses={200: SegmentSerializer(many=True), **error_responses(401), **NO_SUCH_PAGE}
    )
    def list(self, request: Request) -> Response:
        return _page(
            self, self.get_queryset(), lambda rows: SegmentSerializer(rows, many=True).data
        )

    @extend_schema(
        request=SegmentCreateSerializer,
        description="Every non-empty list must match (any of its values); an empty list is "
        "no limit.",
        responses={201: SegmentSerializer, **error_responses(400, 401, 403)},
    )
    def create(self, request: Request) -> Response:
        data = _valid(SegmentCreateSerializer, request.data).validated_data
        segment = services.segment_create(**data, actor=_actor(request))
        return self._render(segment, status.HTTP_201_CREATED)

    @extend_schema(responses={200: SegmentSerializer, **error_responses(401, 404)})
    def retrieve(self, request: Request, pk: int) -> Response:
        return self._render(self.get_object())

    @extend_schema(
        request=SegmentPatchSerializer,
        description="A list given replaces the old one.",
        responses={200: SegmentSerializer, **error_responses(400, 401, 403, 404)},
    )
    def partial_update(self, request: Request, pk: int) -> Response:
        segment = self.get_object()
        data = _valid(SegmentPatchSerializer, request.data).validated_data
        segment = services.segment_update(segment=segment, **data, actor=_actor(request))
        return self._render(segment)

    @extend_schema(responses={**DELETED, **error_responses(401, 403, 404)})
    def destroy(self, request: Request, pk: int) -> Response:
        services.segment_delete(segment=self.get_object(), actor=_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[SegmentPreviewQuerySerializer],
        description="How many subscribers the segment selects now (confirmed, not "
        "unsubscribed) and the first of them.",
        responses={200: SegmentPreviewSerializer, **error_responses(400, 401, 404)},
    )
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: int) -> Response:
        segment = self.get_object()
        sample = _valid(SegmentPreviewQuerySerializer, request.query_params).validated_data
        preview = selectors.segment_preview(segment, sample=sample["sample"])
        return Response(SegmentPreviewSerializer(preview).data)
