from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.defaults import page_not_found

from apps.core.api.views import api_not_found


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return page_not_found(request, exception or Exception())
