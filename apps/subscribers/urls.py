"""The public self-service pages, on every tenant's host (see apps.subscribers.public)."""

from django.urls import URLPattern, URLResolver, path

from apps.subscribers.public import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscriptions/<str:token>/", views.subscription_manage, name="subscription-manage"),
    path(
        "subscriptions/<str:token>/confirm/",
        views.subscription_confirm,
        name="subscription-confirm",
    ),
    path(
        "subscriptions/<str:token>/webhook/",
        views.subscription_webhook_enable,
        name="subscription-webhook-enable",
    ),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
