from tests.factories.accounts import UserFactory
from tests.factories.incidents import RegionFactory, ServiceFactory, ServiceGroupFactory

__all__ = ["RegionFactory", "ServiceFactory", "ServiceGroupFactory", "UserFactory"]
