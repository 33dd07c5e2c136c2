"""The two e-mails the subscribe page sends itself, through Django's mail API (not the
message fan-out): the confirmation link (the only thing an unconfirmed address ever gets),
and "you are already subscribed" with the manage link (to an address that is confirmed).

Links are built on the host the person used, which tenant routing has already tied to this
tenant (an unknown Host header never reaches these views).
"""

from __future__ import annotations

import smtplib

from anymail.exceptions import AnymailError
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode

from apps.core.tenancy import current_tenant
from apps.subscribers.models import Subscriber
from apps.subscribers.tokens import CONFIRM_MAX_AGE, confirm_signature, manage_token_sign

# What a failed send can raise: SMTP and socket errors, or an ESP's API error (anymail).
SEND_ERRORS = (OSError, smtplib.SMTPException, AnymailError)


def manage_url(request: HttpRequest, subscriber: Subscriber) -> str:
    signed = manage_token_sign(subscriber.manage_token)
    return request.build_absolute_uri(reverse("subscription-manage", args=[signed]))


def confirm_url(request: HttpRequest, subscriber: Subscriber) -> str:
    signed = manage_token_sign(subscriber.manage_token)
    path = reverse("subscription-confirm", args=[signed])
    return request.build_absolute_uri(f"{path}?{urlencode({'sig': confirm_signature(subscriber)})}")


def _send(subject: str, template: str, context: dict[str, object], to: str) -> None:
    text = render_to_string(f"subscribers/public/email/{template}.txt", context)
    html = render_to_string(f"subscribers/public/email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Auto-Submitted": "auto-generated"},  # RFC 3834: no auto-replies, please
    )
    message.attach_alternative(html, "text/html")
    message.send()


def send_confirmation(request: HttpRequest, subscriber: Subscriber) -> None:
    """E-mail the link that confirms the subscription (valid CONFIRM_MAX_AGE)."""
    company = current_tenant().name
    _send(
        f"Confirm your subscription to {company} status updates",
        "confirm",
        {
            "company": company,
            "subscriber": subscriber,
            "confirm_url": confirm_url(request, subscriber),
            "days": CONFIRM_MAX_AGE.days,
            "status_page_url": request.build_absolute_uri("/"),
        },
        subscriber.email,
    )


def send_already_subscribed(request: HttpRequest, subscriber: Subscriber) -> None:
    """Tell a confirmed address that it is subscribed already, with its manage link."""
    company = current_tenant().name
    _send(
        f"You are already subscribed to {company} status updates",
        "already_subscribed",
        {
            "company": company,
            "subscriber": subscriber,
            "manage_url": manage_url(request, subscriber),
            "status_page_url": request.build_absolute_uri("/"),
        },
        subscriber.email,
    )
