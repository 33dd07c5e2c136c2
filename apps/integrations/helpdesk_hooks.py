"""`/hooks/zendesk/<token>/`: Zendesk tells Clarion about new tickets (a trigger or an
event subscription calling a webhook with signing enabled).

Kept short so that it answers in well under 200 ms: find the installation by its token,
verify Zendesk's signature (`X-Zendesk-Webhook-Signature`: base64 HMAC-SHA256 of
`X-Zendesk-Webhook-Signature-Timestamp` + body, keyed with the webhook's signing secret;
a timestamp more than 5 minutes away is stale), store the call once under its event key,
queue `integrations.helpdesk_ticket` and answer 202. Forged, unsigned or stale calls get a
401 and nothing is stored. A redelivered event answers 202 `duplicate` and links nothing.

Bodies accepted (JSON): a trigger's `{"ticket_id": "{{ticket.id}}"}` or an event
subscription's `{"type": "zen:event-type:ticket.created", "id": ..., "detail": {"id": ...}}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.core.api.errors import error_body
from apps.integrations.models_support import HelpdeskInstallation, HelpdeskProvider
from apps.integrations.services.helpdesk import helpdesk_webhook_store
from apps.integrations.tasks_support import helpdesk_ticket

SIGNATURE = "X-Zendesk-Webhook-Signature"
TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
TOLERANCE_SECONDS = 300


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _stale(timestamp: str, now: datetime) -> bool:
    try:
        sent = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return True
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    return abs((now - sent).total_seconds()) > TOLERANCE_SECONDS


def _refuse(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def _ticket_and_key(payload: dict[str, Any]) -> tuple[str, str]:
    detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else {}
    ticket = payload.get("ticket_id") or (detail or {}).get("id") or ""
    if isinstance(payload.get("ticket"), dict):
        ticket = ticket or payload["ticket"].get("id") or ""
    ticket_id = str(ticket).strip()
    event = str(payload.get("id") or "").strip()
    return ticket_id, (f"event:{event}" if event else f"ticket-created:{ticket_id}")


@csrf_exempt
def zendesk_hook(request: HttpRequest, token: str) -> JsonResponse:
    if request.method != "POST":
        response = _refuse(405, "method_not_allowed", "Deliver webhooks with POST.")
        response["Allow"] = "POST"
        return response
    installation = HelpdeskInstallation.objects.filter(
        webhook_token=token, provider=HelpdeskProvider.ZENDESK, enabled=True
    ).first()
    if installation is None:
        return _refuse(401, "unknown_token", "No Zendesk installation of this tenant has this URL.")
    if not installation.webhook_secret:
        return _refuse(
            401,
            "secret_missing",
            "Paste the webhook's signing secret (Zendesk Admin Center > Webhooks) into Clarion.",
        )
    signature = request.headers.get(SIGNATURE, "")
    timestamp = request.headers.get(TIMESTAMP, "")
    if not signature or not timestamp:
        return _refuse(401, "signature_missing", f"Sign the webhook: {SIGNATURE} is missing.")
    if _stale(timestamp, datetime.now(UTC)):
        return _refuse(401, "stale", "The signature timestamp is more than 5 minutes away.")
    expected = zendesk_signature(installation.webhook_secret, timestamp, request.body)
    if not hmac.compare_digest(expected, signature):
        return _refuse(401, "signature_invalid", "The signature does not match the body.")
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _refuse(400, "malformed_json", f"The body is not valid JSON: {exc}.")
    if not isinstance(payload, dict):
        return _refuse(400, "invalid_payload", "The body must be a JSON object.")
    ticket_id, key = _ticket_and_key(payload)
    if not ticket_id.isdigit():
        return _refuse(
            400,
            "invalid_payload",
            'Send the ticket\'s id: {"ticket_id": "{{ticket.id}}"} in the webhook body.',
        )
    delivery = helpdesk_webhook_store(ticket_id=ticket_id, event_key=key, payload=payload)
    if delivery is None:
        return JsonResponse({"status": "duplicate"}, status=202)
    delivery_id = delivery.pk
    transaction.on_commit(lambda: helpdesk_ticket.delay(delivery_id))
    return JsonResponse({"status": "accepted"}, status=202)
