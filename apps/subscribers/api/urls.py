from rest_framework.routers import SimpleRouter

from apps.subscribers.api.views import CustomerViewSet, SegmentViewSet, SubscriberViewSet

router = SimpleRouter(use_regex_path=False)
router.register("customers", CustomerViewSet, basename="customer")
router.register("subscribers", SubscriberViewSet, basename="subscriber")
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = router.urls
