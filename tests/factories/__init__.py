from tests.factories.accounts import UserFactory
from tests.factories.incidents import RegionFactory, ServiceFactory, ServiceGroupFactory
from tests.factories.subscribers import (
    CustomerFactory,
    SegmentFactory,
    SubscriberFactory,
    SuppressionFactory,
)

__all__ = [
    "CustomerFactory",
    "RegionFactory",
    "SegmentFactory",
    "ServiceFactory",
    "ServiceGroupFactory",
    "SubscriberFactory",
    "SuppressionFactory",
    "UserFactory",
]
