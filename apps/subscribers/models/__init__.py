from apps.subscribers.models.broadcasts import BroadcastDelivery
from apps.subscribers.models.crm import (
    CrmConnection,
    CrmLink,
    CrmObject,
    CrmProvider,
    CrmSyncLog,
    CrmSyncStatus,
)
from apps.subscribers.models.customers import Customer
from apps.subscribers.models.segments import Segment, Suppression
from apps.subscribers.models.subscribers import Subscriber, Subscription, new_manage_token

__all__ = [
    "BroadcastDelivery",
    "CrmConnection",
    "CrmLink",
    "CrmObject",
    "CrmProvider",
    "CrmSyncLog",
    "CrmSyncStatus",
    "Customer",
    "Segment",
    "Subscriber",
    "Subscription",
    "Suppression",
    "new_manage_token",
]
