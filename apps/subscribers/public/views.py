"""The self-service pages on a tenant's host, without login.

- `/subscribe/?via=email|sms|webhook|slack|teams`: one form per way of being reached.
  E-mail and SMS subscriptions are double opt-in: the subscriber is created unconfirmed and
  the address gets a confirmation link, the only thing sent to it until it is confirmed (SMS
  subscriptions give an e-mail address for this). Webhook, Slack and Teams subscriptions are
  confirmed at once: the person holds the endpoint, and is shown the manage link (and the
  webhook's signing secret) once, on the answer page. Every POST counts against the client's
  rate limit, every valid one against each address it names (see `ratelimit`); a filled
  honeypot gets the usual answer and creates nothing.
- `/subscriptions/<token>/confirm/?sig=...`: the link e-mailed; GET shows a button, POST
  confirms (mail scanners follow links, so a GET changes nothing).
- `/subscriptions/<token>/`: services, channels, kinds and time zone; a button to leave.
  When the webhook endpoint was disabled for failing (apps.communications.channels.
  endpoint_health, whose e-mail links here), the page says so and a button (POST
  `/subscriptions/<token>/webhook/`) turns it back on.
- `/unsubscribe/<token>/`: GET asks, POST unsubscribes. A POST whose only form field is
  `List-Unsubscribe=One-Click` (RFC 8058, sent by mail providers without cookies) needs no
  CSRF token; any other POST does.

`<token>` is the subscriber's manage token signed for this tenant (`apps.subscribers.tokens`):
a token from another tenant's host, or a tampered one, finds nothing (404).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from apps.core.exceptions import ApplicationError, Conflict
from apps.core.tenancy import current_tenant
from apps.statuspage.selectors import page_branding
from apps.subscribers.choices import SubscriberChannel, SubscriberSource, SuppressionReason
from apps.subscribers.models import Subscriber, Suppression
from apps.subscribers.public import emails, ratelimit
from apps.subscribers.public.forms import (
    CONFIRMED_AT_ONCE,
    EMAIL,
    HONEYPOT,
    VIAS,
    WEBHOOK,
    ManageForm,
    SubscribeForm,
    contact,
    describe,
)
from apps.subscribers.services import (
    subscriber_confirm,
    subscriber_create,
    subscriber_unsubscribe,
    subscriber_update,
    subscriber_webhook_enable,
)
from apps.subscribers.tokens import (
    CONFIRM_MAX_AGE,
    confirm_signature_check,
    manage_token_unsign,
)

logger = logging.getLogger(__name__)

ACTOR_VISITOR = "status page visitor"
ACTOR_SUBSCRIBER = "the subscriber, on the status page"
ACTOR_ONE_CLICK = "one-click unsubscribe (RFC 8058)"
ONE_CLICK = {"List-Unsubscribe": ["One-Click"]}
ONE_CLICK_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Addresses that bounced or complained get no confirmation mail either.
NEVER_MAILED = (SuppressionReason.BOUNCED, SuppressionReason.COMPLAINED)
NOTICES = {
    "confirmed": "Thank you: your subscription is confirmed. You can change it below.",
    "saved": "Your changes are saved.",
    "webhook": "Your webhook endpoint is turned back on: the next update goes to it.",
}


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    subscriber = context.get("subscriber")
    if isinstance(subscriber, Subscriber):
        context = {**context, "contact": contact(subscriber)}
    response = render(
        request,
        f"subscribers/public/{template}.html",
        {"tenant": current_tenant(), "branding": page_branding(), **context},
        status=status,
    )
    # Tokens and secrets: not for shared caches, nor for the browser's back-forward cache.
    response["Cache-Control"] = "no-store"
    return response


def _subscriber_for(token: str) -> Subscriber | None:
    raw = manage_token_unsign(token)
    if raw is None:
        return None
    return Subscriber.objects.select_related("customer").filter(manage_token=raw).first()


def _invalid_link(
    request: HttpRequest, reason: str = "unknown", *, status: int = 404
) -> HttpResponse:
    return _render(request, "link_invalid", {"reason": reason}, status=status)


def _show_refusal(form: forms.Form, exc: ApplicationError) -> None:
    """A service's refusal on the form: each reason next to its field (named, on top, when
    the form has no such field)."""
    for field, reasons in exc.fields.items():
        for reason in reasons:
            if field in form.fields:
                form.add_error(field, reason)
            else:
                form.add_error(None, f"{field.replace('_', ' ').capitalize()}: {reason}")
    if not exc.fields:
        form.add_error(None, exc.message)


def _too_many(request: HttpRequest, verdict: ratelimit.Verdict) -> HttpResponse:
    minutes = max(1, round(verdict.retry_after / 60))
    response = _render(
        request,
        "too_many",
        {"minutes": minutes, "retry_at": timezone.now() + timedelta(seconds=verdict.retry_after)},
        status=429,
    )
    response["Retry-After"] = str(verdict.retry_after)
    return response


# --- /subscribe/ ----------------------------------------------------------------------------


def _subscribe_page(
    request: HttpRequest, form: SubscribeForm, *, status: int = 200
) -> HttpResponse:
    return _render(
        request,
        "subscribe",
        {
            "form": form,
            "via": form.via,
            "via_label": VIAS[form.via],
            "vias": VIAS,
            "confirm_days": CONFIRM_MAX_AGE.days,
        },
        status=status,
    )


def _check_inbox(request: HttpRequest, address: str) -> HttpResponse:
    return _render(
        request, "check_inbox", {"address": address, "confirm_days": CONFIRM_MAX_AGE.days}
    )


@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    via = request.GET.get("via", EMAIL)
    via = via if via in VIAS else EMAIL
    if request.method != "POST":
        return _subscribe_page(request, SubscribeForm(via=via))
    verdict = ratelimit.hit("ip", ratelimit.client_ip(request), ratelimit.per_ip())
    if not verdict.allowed:
        return _too_many(request, verdict)
    form = SubscribeForm(request.POST, via=via)
    if form.honeypot_filled():
        logger.info("subscribe: honeypot %r filled, nothing created", HONEYPOT)
        return _check_inbox(request, request.POST.get("email", "").strip())
    if not form.is_valid():
        return _subscribe_page(request, form, status=400)
    for address in form.addresses():
        verdict = ratelimit.hit("address", address, ratelimit.per_address())
        if not verdict.allowed:
            return _too_many(request, verdict)
    if via in CONFIRMED_AT_ONCE:
        return _subscribe_endpoint(request, form)
    return _subscribe_by_email(request, form)


def _subscribe_endpoint(request: HttpRequest, form: SubscribeForm) -> HttpResponse:
    """Webhook, Slack, Teams: confirmed at once; the secret and the manage link are shown
    on this answer only."""
    try:
        subscriber = subscriber_create(
            **form.service_arguments(),
            source=SubscriberSource.SELF,
            confirmed=True,
            actor=ACTOR_VISITOR,
        )
    except ApplicationError as exc:
        _show_refusal(form, exc)
        return _subscribe_page(request, form, status=400)
    return _render(
        request,
        "subscribed",
        {
            "subscriber": subscriber,
            "via_label": VIAS[form.via],
            "secret": subscriber.webhook_secret if form.via == WEBHOOK else "",
            "manage_url": emails.manage_url(request, subscriber),
        },
    )


def _subscribe_by_email(request: HttpRequest, form: SubscribeForm) -> HttpResponse:
    """E-mail and SMS: created unconfirmed, and the address gets the confirmation link. An
    address that is subscribed already is told so (with its manage link) if it is confirmed,
    or sent the link again. The answer is the same in every case, so the page does not tell
    who is subscribed."""
    email = form.cleaned_data["email"]
    if Suppression.objects.filter(
        channel=SubscriberChannel.EMAIL, address=email, reason__in=NEVER_MAILED
    ).exists():
        logger.info("subscribe: the address bounced or complained before; nothing sent")
        return _check_inbox(request, email)
    try:
        subscriber = subscriber_create(
            **form.service_arguments(),
            source=SubscriberSource.SELF,
            confirmed=False,
            actor=ACTOR_VISITOR,
        )
    except Conflict:
        existing = Subscriber.objects.filter(email=email).first()
        if existing is None:  # the phone number is another subscriber's: send nothing
            return _check_inbox(request, email)
        subscriber = existing
    except ApplicationError as exc:
        _show_refusal(form, exc)
        return _subscribe_page(request, form, status=400)
    try:
        if subscriber.confirmed and subscriber.unsubscribed_at is None:
            emails.send_already_subscribed(request, subscriber)
        else:
            emails.send_confirmation(request, subscriber)
    except emails.SEND_ERRORS:
        logger.warning("subscribe: cannot send to subscriber #%s", subscriber.pk, exc_info=True)
        return _render(request, "send_failed", {"address": email}, status=503)
    return _check_inbox(request, email)


# --- /subscriptions/<token>/confirm/ ------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def subscription_confirm(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = _subscriber_for(token)
    if subscriber is None:
        return _invalid_link(request)
    try:
        confirm_signature_check(subscriber, request.GET.get("sig", ""))
    except signing.SignatureExpired:
        return _invalid_link(request, "expired", status=400)
    except signing.BadSignature:
        return _invalid_link(request, "bad_signature", status=400)
    manage = reverse("subscription-manage", args=[token])
    if request.method == "POST":
        subscriber_confirm(subscriber=subscriber, actor=ACTOR_SUBSCRIBER, resubscribe=True)
        return HttpResponseRedirect(f"{manage}?done=confirmed")
    active = subscriber.confirmed and subscriber.unsubscribed_at is None
    return _render(
        request, "confirm", {"subscriber": subscriber, "active": active, "manage_url": manage}
    )


# --- /subscriptions/<token>/ ----------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def subscription_manage(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = _subscriber_for(token)
    if subscriber is None:
        return _invalid_link(request)
    context: dict[str, Any] = {
        "subscriber": subscriber,
        "token": token,
        "channels": [describe(subscriber, c) for c in subscriber.reachable_channels],
        "notice": NOTICES.get(request.GET.get("done", "")),
        # Only the host: the URL may carry a credential, and the link may have been forwarded.
        "webhook_off": (
            urlsplit(subscriber.webhook_url).hostname or "?"
            if subscriber.webhook_disabled_at and subscriber.webhook_url
            else ""
        ),
    }
    if subscriber.unsubscribed_at is not None:
        status = 409 if request.method == "POST" else 200
        return _render(request, "manage", {**context, "form": None}, status=status)
    form = ManageForm(request.POST if request.method == "POST" else None, subscriber=subscriber)
    if form.is_bound and form.is_valid():
        try:
            subscriber_update(
                subscriber=subscriber, **form.service_arguments(), actor=ACTOR_SUBSCRIBER
            )
        except ApplicationError as exc:
            _show_refusal(form, exc)
        else:
            return HttpResponseRedirect(f"{request.path}?done=saved")
    if form.is_bound:
        return _render(request, "manage", {**context, "form": form, "notice": None}, status=400)
    return _render(request, "manage", {**context, "form": form})


@require_http_methods(["POST"])
def subscription_webhook_enable(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = _subscriber_for(token)
    if subscriber is None:
        return _invalid_link(request)
    manage_url = reverse("subscription-manage", args=[token])
    if subscriber.unsubscribed_at is not None:
        return HttpResponseRedirect(manage_url)  # the page says they left
    try:
        subscriber_webhook_enable(subscriber=subscriber, actor=ACTOR_SUBSCRIBER)
    except ApplicationError:
        return HttpResponseRedirect(manage_url)  # no endpoint (any more): nothing to turn on
    return HttpResponseRedirect(f"{manage_url}?done=webhook")


# --- /unsubscribe/<token>/ ------------------------------------------------------------------


def _is_one_click(request: HttpRequest) -> bool:
    """RFC 8058: the POST carries exactly the form field `List-Unsubscribe=One-Click`
    (url-encoded or multipart/form-data), nothing else."""
    if request.content_type not in ONE_CLICK_TYPES or request.FILES:
        return False
    return dict(request.POST.lists()) == ONE_CLICK


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = _subscriber_for(token)
    if subscriber is None:
        return _invalid_link(request)
    if request.method == "POST" and _is_one_click(request):
        subscriber = subscriber_unsubscribe(
            subscriber=subscriber, actor=ACTOR_ONE_CLICK, note="One-click unsubscribe (RFC 8058)."
        )
        return _render(request, "unsubscribed", {"subscriber": subscriber})
    return _unsubscribe_page(request, subscriber, token)


@csrf_protect
def _unsubscribe_page(request: HttpRequest, subscriber: Subscriber, token: str) -> HttpResponse:
    """The confirm page and its button (a form POST with a CSRF token)."""
    if request.method == "POST":
        subscriber = subscriber_unsubscribe(
            subscriber=subscriber, actor=ACTOR_SUBSCRIBER, note="Left on the status page."
        )
        return _render(request, "unsubscribed", {"subscriber": subscriber})
    manage = reverse("subscription-manage", args=[token])
    return _render(request, "unsubscribe", {"subscriber": subscriber, "manage_url": manage})
