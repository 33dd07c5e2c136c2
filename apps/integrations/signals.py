"""Cache invalidation only: what each process keeps of the routing rules and of the
maintenance in progress (see routing.py) is reloaded after any of them changes."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save

from apps.incidents.models import MaintenanceWindow, Region, Service
from apps.integrations.models import RoutingRule
from apps.integrations.routing import catalog_changed


def _changed(sender: Any, **kwargs: Any) -> None:
    catalog_changed()


def connect() -> None:
    for model in (RoutingRule, Service, Region, MaintenanceWindow):
        name = model._meta.label_lower
        post_save.connect(_changed, sender=model, dispatch_uid=f"integrations.saved.{name}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"integrations.deleted.{name}")
    for relation in (
        RoutingRule.services,
        RoutingRule.regions,
        MaintenanceWindow.services,
        MaintenanceWindow.regions,
    ):
        through = relation.through
        m2m_changed.connect(
            _changed, sender=through, dispatch_uid=f"integrations.m2m.{through._meta.label}"
        )
