from tests.factories.accounts import UserFactory
from tests.factories.incidents import (
    ALL_CLEAR,
    RegionFactory,
    ServiceFactory,
    ServiceGroupFactory,
)
from tests.factories.subscribers import (
    CustomerFactory,
    SegmentFactory,
    SubscriberFactory,
    SuppressionFactory,
)

__all__ = [
    "ALL_CLEAR",
    "CustomerFactory",
    "RegionFactory",
    "SegmentFactory",
    "ServiceFactory",
    "ServiceGroupFactory",
    "SubscriberFactory",
    "SuppressionFactory",
    "UserFactory",
]
