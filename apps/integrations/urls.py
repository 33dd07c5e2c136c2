from django.urls import URLPattern, URLResolver, path

from apps.integrations.views import hook

urlpatterns: list[URLPattern | URLResolver] = [
    path("<slug:source>/<str:token>/", hook, name="integration-hook"),
]
