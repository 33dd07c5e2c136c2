from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.defaults import page_not_found

from apps.core.api.views import api_not_found
from apps.core.tenancy import current_tenant


def status_home(request: HttpRequest) -> HttpResponse:
    """The tenant's public status page (a placeholder until the status page app lands)."""
    return render(request, "core/status_home.html", {"tenant": current_tenant()})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return page_not_found(request, exception or Exception())
