from django.urls import URLPattern, URLResolver, path

from apps.integrations.helpdesk_hooks import zendesk_hook
from apps.integrations.views import hook

urlpatterns: list[URLPattern | URLResolver] = [
    path("zendesk/<str:token>/", zendesk_hook, name="zendesk-hook"),
    path("<slug:source>/<str:token>/", hook, name="integration-hook"),
]
