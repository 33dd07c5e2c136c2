from apps.incidents.models.catalog import Region, Service, ServiceGroup
from apps.incidents.models.incidents import Incident, IncidentService, IncidentUpdate
from apps.incidents.models.maintenance import MaintenanceUpdate, MaintenanceWindow
from apps.incidents.models.policy import PolicySettings, SeverityPolicy

__all__ = [
    "Incident",
    "IncidentService",
    "IncidentUpdate",
    "MaintenanceUpdate",
    "MaintenanceWindow",
    "PolicySettings",
    "Region",
    "Service",
    "ServiceGroup",
    "SeverityPolicy",
]
