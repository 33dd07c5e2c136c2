"""Domain events: how apps hear about each other's changes without importing each other.

A service calls `emit("incident.resolved", incident_id=...)` inside its transaction; once the
transaction commits, every handler subscribed to that name (in its app's `ready()`) is called
with the event, inside the tenant schema it was emitted from. Handlers should be quick (queue
a Celery task with the ids); one failing handler is logged and does not stop the others.
Nothing is dispatched when the transaction rolls back.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django_tenants.utils import get_tenant_model, schema_context, tenant_context

from apps.core.tenancy import current_schema

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainEvent:
    name: str
    schema: str
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[DomainEvent], None]
_handlers: defaultdict[str, list[Handler]] = defaultdict(list)


def subscribe(name: str, handler: Handler) -> None:
    """Call `handler` after every committed `name` event. Subscribing twice is a no-op."""
    if handler not in _handlers[name]:
        _handlers[name].append(handler)


def unsubscribe(name: str, handler: Handler) -> None:
    if handler in _handlers[name]:
        _handlers[name].remove(handler)


def emit(name: str, **data: Any) -> DomainEvent:
    """Announce `name` with primitive `data` (ids, flags); dispatched on commit."""
    event = DomainEvent(name=name, schema=current_schema(), data=data)
    transaction.on_commit(lambda: _dispatch(event))
    return event


def _dispatch(event: DomainEvent) -> None:
    # The tenant itself (not only its schema), so handlers can use its name and slug.
    tenant = get_tenant_model().objects.filter(schema_name=event.schema).first()
    with tenant_context(tenant) if tenant is not None else schema_context(event.schema):
        for handler in list(_handlers[event.name]):
            try:
                handler(event)
            except Exception:
                logger.exception("handler %r failed for event %s", handler, event)
