"""`/hooks/<source>/<token>/`: where monitoring tools deliver alerts (see `hooks.py`)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.core.api.errors import error_body
from apps.integrations.hooks import hook_receive


@csrf_exempt
def hook(request: HttpRequest, source: str, token: str) -> JsonResponse:
    if request.method != "POST":
        response = JsonResponse(
            error_body("method_not_allowed", "Deliver webhooks with POST."), status=405
        )
        response["Allow"] = "POST"
        return response
    status, body = hook_receive(
        source=source,
        token=token,
        headers=request.headers,
        body=request.body,
        content_type=request.content_type or "",
    )
    return JsonResponse(body, status=status)
