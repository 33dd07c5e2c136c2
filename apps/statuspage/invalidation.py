"""What makes the public pages change, and so bumps the tenant's render version.

Domain events cover incidents and maintenance; model signals (the one use of signals
STYLE.md allows: cache invalidation) cover the catalog the admin edits directly, and what
only the in-app banners depend on: who a customer is (region, active, time zone), what its
people follow (subscribers, subscriptions) and which severities use the in-app channel.
Those bump the banners' counter only (no re-render of the page, no static export), since a
CRM sync or a wave of sign-ups during an outage changes many of them at once.
Time alone (midnight, a window coming within a day) is handled by the store's time slots.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from apps.core.events import DomainEvent, subscribe
from apps.core.tenancy import current_schema
from apps.incidents import events
from apps.incidents.models import Region, Service, ServiceGroup, SeverityPolicy
from apps.statuspage import store
from apps.statuspage.models import PageBranding
from apps.statuspage.tasks import export_current_tenant
from apps.subscribers.models import Customer, Subscriber, Subscription
from apps.tenants.models import Tenant

BANNER_MODELS = (Customer, Subscriber, Subscription, SeverityPolicy)


def _changed(schema: str) -> None:
    store.version_bump(schema)
    if settings.CLARION_STATUS_EXPORT_DIR:
        export_current_tenant.delay()  # runs in `schema` (the task carries it)


def _on_event(event: DomainEvent) -> None:
    _changed(event.schema)


def _on_catalog_change(sender: Any, **kwargs: Any) -> None:
    schema = current_schema()
    transaction.on_commit(lambda: _changed(schema), robust=True)


# What a subscriber row tells the banners: whose it is and whether it still follows.
BANNER_SUBSCRIBER_FIELDS = frozenset({"customer", "customer_id", "unsubscribed_at"})


def _touches_banners(instance: Any, *, created: bool, update_fields: Any) -> bool:
    """Banners follow customers (their region, and the services their people follow): a new
    subscriber of no customer (a sign-up on the page), or a save of fields banners never
    read (a webhook disabled, a time zone), leaves every banner as it is."""
    if isinstance(instance, Subscription):
        return Subscriber.objects.filter(pk=instance.subscriber_id, customer__isnull=False).exists()
    if isinstance(instance, Subscriber):
        if created:
            return instance.customer_id is not None
        return not update_fields or bool(BANNER_SUBSCRIBER_FIELDS & set(update_fields))
    return True


def _on_audience_change(sender: Any, instance: Any = None, **kwargs: Any) -> None:
    created = bool(kwargs.get("created"))
    if not _touches_banners(instance, created=created, update_fields=kwargs.get("update_fields")):
        return
    schema = current_schema()
    transaction.on_commit(lambda: store.version_bump(schema, store.BANNERS), robust=True)


def _on_tenant_change(sender: Any, instance: Tenant, **kwargs: Any) -> None:
    schema = instance.schema_name
    transaction.on_commit(lambda: store.version_bump(schema), robust=True)


def connect() -> None:
    for name in (v for k, v in vars(events).items() if k.isupper()):
        subscribe(name, _on_event)
    for model in (Service, ServiceGroup, Region, PageBranding):
        post_save.connect(_on_catalog_change, sender=model, dispatch_uid=f"sp-{model.__name__}")
        post_delete.connect(
            _on_catalog_change, sender=model, dispatch_uid=f"sp-del-{model.__name__}"
        )
    m2m_changed.connect(
        _on_catalog_change, sender=Service.regions.through, dispatch_uid="sp-service-regions"
    )
    for banner_model in BANNER_MODELS:
        label = banner_model.__name__
        post_save.connect(
            _on_audience_change, sender=banner_model, dispatch_uid=f"sp-banner-{label}"
        )
        post_delete.connect(
            _on_audience_change, sender=banner_model, dispatch_uid=f"sp-banner-del-{label}"
        )
    m2m_changed.connect(
        _on_audience_change,
        sender=Subscription.services.through,
        dispatch_uid="sp-banner-subscription-services",
    )
    post_save.connect(_on_tenant_change, sender=Tenant, dispatch_uid="sp-tenant")
