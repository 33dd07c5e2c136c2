from rest_framework.routers import SimpleRouter

from apps.incidents.api.views import (
    IncidentUpdateViewSet,
    IncidentViewSet,
    MaintenanceViewSet,
    RegionViewSet,
    ServiceViewSet,
)

router = SimpleRouter(use_regex_path=False)
router.register("services", ServiceViewSet, basename="service")
router.register("regions", RegionViewSet, basename="region")
router.register("incidents", IncidentViewSet, basename="incident")
router.register(
    "incidents/<int:incident_id>/updates", IncidentUpdateViewSet, basename="incident-update"
)
router.register("maintenances", MaintenanceViewSet, basename="maintenance")

urlpatterns = router.urls
