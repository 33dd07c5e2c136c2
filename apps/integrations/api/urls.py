from rest_framework.routers import SimpleRouter

from apps.integrations.api.views import IntegrationViewSet

router = SimpleRouter(use_regex_path=False)
router.register("integrations", IntegrationViewSet, basename="integration")

urlpatterns = router.urls
