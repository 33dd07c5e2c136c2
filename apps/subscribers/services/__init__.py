"""Write use-cases of customers, subscribers, segments and suppressions."""

from apps.subscribers.services.common import ALL, UNCHANGED, Unchanged
from apps.subscribers.services.crm import (
    crm_connection_create,
    crm_connection_delete,
    crm_connection_update,
    crm_sync,
    crm_sync_due,
)
from apps.subscribers.services.customers import customer_delete, customer_upsert
from apps.subscribers.services.imports import (
    CUSTOMER_COLUMNS,
    SUBSCRIBER_COLUMNS,
    ImportReport,
    RowReport,
    csv_import_customers,
    csv_import_subscribers,
)
from apps.subscribers.services.segments import segment_create, segment_delete, segment_update
from apps.subscribers.services.subscribers import (
    new_webhook_secret,
    subscriber_confirm,
    subscriber_create,
    subscriber_delete,
    subscriber_snapshot,
    subscriber_unsubscribe,
    subscriber_update,
    subscriber_webhook_enable,
)
from apps.subscribers.services.suppressions import (
    suppression_add,
    suppression_address,
    suppression_remove,
)

__all__ = [
    "ALL",
    "CUSTOMER_COLUMNS",
    "SUBSCRIBER_COLUMNS",
    "UNCHANGED",
    "ImportReport",
    "RowReport",
    "Unchanged",
    "crm_connection_create",
    "crm_connection_delete",
    "crm_connection_update",
    "crm_sync",
    "crm_sync_due",
    "csv_import_customers",
    "csv_import_subscribers",
    "customer_delete",
    "customer_upsert",
    "new_webhook_secret",
    "segment_create",
    "segment_delete",
    "segment_update",
    "subscriber_confirm",
    "subscriber_create",
    "subscriber_delete",
    "subscriber_snapshot",
    "subscriber_unsubscribe",
    "subscriber_update",
    "subscriber_webhook_enable",
    "suppression_add",
    "suppression_address",
    "suppression_remove",
]
