"""The support team's portal in each tenant's admin: incidents, maintenance, the catalogue
of services and regions, and the severity policy. Importing the modules registers them."""

from apps.incidents.admin import catalog, incidents, maintenance, policy

__all__ = ["catalog", "incidents", "maintenance", "policy"]
