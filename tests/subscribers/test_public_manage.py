"""`/subscriptions/<token>/` and `/unsubscribe/<token>/`: what a subscriber can do with the
links in their messages, RFC 8058 one-click unsubscribe, and why a link of one tenant does
nothing on another."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.communications import delivery
from apps.communications.models import Delivery
from apps.communications.services import message_draft, message_publish
from apps.core.models import AuditEvent
from apps.incidents.services import incident_open
from apps.subscribers.models import Subscriber, Suppression
from apps.subscribers.tokens import manage_token_sign
from tests.factories import CustomerFactory, SubscriberFactory

ACTOR = "pytest"
ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def ada(services) -> Subscriber:
    return SubscriberFactory(
        email="ada@example.com",
        phone="+14155550123",
        name="Ada",
        subscription__channels=["email"],
    )


def manage(subscriber: Subscriber) -> str:
    return f"/subscriptions/{manage_token_sign(subscriber.manage_token)}/"


def unsubscribe_url(subscriber: Subscriber) -> str:
    return f"/unsubscribe/{manage_token_sign(subscriber.manage_token)}/"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def checked(html: str, name: str) -> list[str]:
    inputs = re.findall(rf'<input[^>]*name="{name}"[^>]*>', html)
    return [re.search(r'value="([^"]*)"', i).group(1) for i in inputs if " checked" in i]


# --- manage ---------------------------------------------------------------------------------


def test_the_manage_page_shows_the_subscription_as_it_is(page, ada) -> None:
    response = page.get(manage(ada))
    html = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert "Your subscription" in html and "ada@example.com" in html
    assert checked(html, "services_scope") == ["all"]
    assert checked(html, "channels") == ["email"]
    assert "E-mail: ada@example.com" in html and "SMS: +14155550123" in html
    assert checked(html, "kinds") == ["incidents", "maintenance", "postmortems"]
    assert '<option value="Europe/Paris">Paris</option>' in html
    assert '<optgroup label="America">' in html
    assert "Leave: stop all updates" in html


def test_a_subscriber_changes_services_channels_kinds_and_time_zone(page, ada) -> None:
    response = page.post(
        manage(ada),
        {
            "services_scope": "chosen",
            "services": ["payments", "api"],
            "channels": ["email", "sms"],
            "kinds": ["incidents"],
            "time_zone": "Europe/Paris",
        },
    )
    assert response.status_code == 302
    shown = page.get(response["Location"]).content.decode()
    assert "Your changes are saved." in shown
    ada.refresh_from_db()
    subscription = ada.subscription
    assert not subscription.all_services
    assert sorted(s.slug for s in subscription.services.all()) == ["api", "payments"]
    assert subscription.channels == ["email", "sms"] and subscription.kinds == ["incidents"]
    assert ada.time_zone == "Europe/Paris"
    assert checked(shown, "services") == ["api", "payments"]
    assert '<option value="Europe/Paris" selected>' in shown
    entry = AuditEvent.objects.get(action="subscriber.updated", object_id=str(ada.pk))
    assert entry.actor_label == "the subscriber, on the status page"
    assert entry.details["time_zone"] == {"from": "", "to": "Europe/Paris"}

    page.post(
        manage(ada),
        {"services_scope": "all", "channels": ["email"], "kinds": ["incidents"], "time_zone": ""},
    )
    ada.refresh_from_db()
    assert ada.subscription.all_services and ada.time_zone == ""


def test_bad_changes_are_explained_next_to_their_fields_and_change_nothing(page, ada) -> None:
    response = page.post(
        manage(ada),
        {
            "services_scope": "chosen",
            "channels": ["webhook"],
            "kinds": [],
            "time_zone": "Mars/Olympus_Mons",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Tick at least one service" in html
    assert 'id="id_channels_error"' in html and "Select a valid choice" in html
    assert 'id="id_kinds_error"' in html and "Tick at least one, or leave" in html
    assert 'id="id_time_zone_error"' in html
    assert 'aria-describedby="id_time_zone_helptext id_time_zone_error"' in html
    assert checked(html, "services_scope") == ["chosen"]  # the input is kept
    ada.refresh_from_db()
    assert ada.subscription.all_services and ada.subscription.channels == ["email"]
    assert ada.subscription.kinds == ["incidents", "maintenance", "postmortems"]


def test_an_unconfirmed_subscriber_is_told_that_nothing_is_sent_yet(page, services) -> None:
    pending = SubscriberFactory(email="new@example.com", unconfirmed=True)
    assert "Not confirmed yet" in page.get(manage(pending)).content.decode()


def test_leaving_from_the_manage_page_unsubscribes_at_once(tenant_db, ada) -> None:
    browser = Client(HTTP_HOST="test.localhost", enforce_csrf_checks=True)
    html = browser.get(manage(ada)).content.decode()
    assert f'action="{unsubscribe_url(ada)}"' in html
    response = browser.post(unsubscribe_url(ada), {"csrfmiddlewaretoken": csrf_of(html)})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    ada.refresh_from_db()
    assert ada.unsubscribed_at is not None
    assert set(Suppression.objects.values_list("channel", "address", "reason")) == {
        ("email", "ada@example.com", "unsubscribed"),
        ("sms", "+14155550123", "unsubscribed"),
    }
    after = browser.get(manage(ada)).content.decode()
    assert "You left on" in after and 'name="channels"' not in after
    refused = browser.post(manage(ada), {"csrfmiddlewaretoken": csrf_of(html), "kinds": ["x"]})
    assert refused.status_code == 409


def test_a_subscriber_turns_their_disabled_webhook_back_on(tenant_db, services) -> None:
    hooked = SubscriberFactory(
        email="ops@example.com",
        webhook_url="https://hooks.example.net/in?token=s3cret",
        webhook_disabled_at=timezone.now(),
        webhook_disabled_reason="5 deliveries failed in a row; last: HTTP 410.",
        webhook_failures=5,
        subscription__channels=["webhook"],
    )
    browser = Client(HTTP_HOST="test.localhost", enforce_csrf_checks=True)
    html = browser.get(manage(hooked)).content.decode()
    assert "Your webhook endpoint is turned off" in html
    assert "your webhook at hooks.example.net" in html
    assert "s3cret" not in html  # the URL may carry a credential: the host only
    button = f"{manage(hooked)}webhook/"
    assert f'action="{button}"' in html
    assert browser.get(button).status_code == 405  # a link followed changes nothing
    assert browser.post(button).status_code == 403  # nor a post from another site
    hooked.refresh_from_db()
    assert hooked.webhook_disabled_at is not None

    response = browser.post(button, {"csrfmiddlewaretoken": csrf_of(html)})
    assert response.status_code == 302
    assert response["Location"] == f"{manage(hooked)}?done=webhook"
    hooked.refresh_from_db()
    assert (hooked.webhook_disabled_at, hooked.webhook_failures) == (None, 0)
    audit = AuditEvent.objects.get(action="subscriber.webhook_enabled")
    assert audit.actor_label == "the subscriber, on the status page"
    after = browser.get(response["Location"]).content.decode()
    assert "Your webhook endpoint is turned back on" in after
    assert "Your webhook endpoint is turned off" not in after


# --- unsubscribe ----------------------------------------------------------------------------


def test_opening_the_unsubscribe_link_only_asks(page, ada) -> None:
    response = page.get(unsubscribe_url(ada))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Stop all status updates from Test Tenant to <strong>ada@example.com</strong>" in html
    assert '<button class="button button-danger" type="submit">Unsubscribe</button>' in html
    assert page.head(unsubscribe_url(ada)).status_code == 200
    ada.refresh_from_db()
    assert ada.unsubscribed_at is None
    assert not Suppression.objects.exists()


def test_the_unsubscribe_button_needs_the_pages_csrf_token(tenant_db, ada) -> None:
    browser = Client(HTTP_HOST="test.localhost", enforce_csrf_checks=True)
    assert browser.post(unsubscribe_url(ada), {"confirm": "yes"}).status_code == 403
    ada.refresh_from_db()
    assert ada.unsubscribed_at is None
    html = browser.get(unsubscribe_url(ada)).content.decode()
    done = browser.post(unsubscribe_url(ada), {"csrfmiddlewaretoken": csrf_of(html)})
    assert "You are unsubscribed" in done.content.decode()
    ada.refresh_from_db()
    assert ada.unsubscribed_at is not None


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribe_per_rfc_8058(tenant_db, ada, encoding) -> None:
    mail_provider = Client(HTTP_HOST="test.localhost", enforce_csrf_checks=True)  # no cookies

    def one_click():
        if encoding == "urlencoded":
            return mail_provider.post(unsubscribe_url(ada), ONE_CLICK, content_type=FORM)
        return mail_provider.post(unsubscribe_url(ada), {"List-Unsubscribe": "One-Click"})

    response = one_click()
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    ada.refresh_from_db()
    assert ada.unsubscribed_at is not None
    first = ada.unsubscribed_at
    assert one_click().status_code == 200  # again: harmless
    ada.refresh_from_db()
    assert ada.unsubscribed_at == first
    [entry] = AuditEvent.objects.filter(action="subscriber.unsubscribed", object_id=str(ada.pk))
    assert entry.actor_label == "one-click unsubscribe (RFC 8058)"


@pytest.mark.parametrize(
    "body",
    [
        "List-Unsubscribe=One-Click&also=this",
        "List-Unsubscribe=Yes",
        "List-Unsubscribe=One-Click&List-Unsubscribe=One-Click",
        "list-unsubscribe=one-click",
        "",
    ],
)
def test_any_other_post_without_a_csrf_token_changes_nothing(tenant_db, ada, body) -> None:
    mail_provider = Client(HTTP_HOST="test.localhost", enforce_csrf_checks=True)
    assert mail_provider.post(unsubscribe_url(ada), body, content_type=FORM).status_code == 403
    ada.refresh_from_db()
    assert ada.unsubscribed_at is None


def test_the_links_in_an_incident_email_manage_and_unsubscribe(page, services, smtp) -> None:
    ada = SubscriberFactory(email="ada@example.com", customer=CustomerFactory())
    incident = incident_open(
        title="Payments failing",
        severity="P2",
        services={"payments": "major_outage"},
        body="We are investigating failed card payments.",
        actor=ACTOR,
    )
    message = message_publish(
        message=message_draft(
            kind="initial_alert", update=incident.updates.get(), channels=["email"], actor=ACTOR
        ),
        actor=ACTOR,
        approver=True,
    )
    delivery.fanout(message.pk)
    delivery.send_batch(message.pk, "email", list(Delivery.objects.values_list("id", flat=True)))
    [mail] = smtp.to("ada@example.com")
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    manage_link = re.search(r"https://test\.localhost(/subscriptions/[^/\s]+/)", text).group(1)
    assert manage_link == manage(ada)  # the token signed for this tenant, not the raw one
    assert "Your subscription" in page.get(manage_link).content.decode()
    header = " ".join(mail["List-Unsubscribe"].split()).strip("<>")
    assert mail["List-Unsubscribe-Post"] == ONE_CLICK
    one_click = Client(HTTP_HOST="test.localhost", enforce_csrf_checks=True)
    assert one_click.post(urlsplit(header).path, ONE_CLICK, content_type=FORM).status_code == 200
    ada.refresh_from_db()
    assert ada.unsubscribed_at is not None


# --- tokens ---------------------------------------------------------------------------------


def test_raw_tampered_or_truncated_tokens_find_nothing(page, ada) -> None:
    signed = manage_token_sign(ada.manage_token)
    for token in (ada.manage_token, signed[:-1], signed[:-1] + ("A" if signed[-1] != "A" else "B")):
        for path in (f"/subscriptions/{token}/", f"/unsubscribe/{token}/"):
            response = page.get(path)
            assert response.status_code == 404
            assert "This link is not valid here" in response.content.decode()
        assert page.post(f"/unsubscribe/{token}/", ONE_CLICK, content_type=FORM).status_code == 404
    ada.refresh_from_db()
    assert ada.unsubscribed_at is None


def test_a_token_of_one_tenant_does_nothing_on_another(tenant_db, other_tenant, ada) -> None:
    # The other tenant even has a subscriber with the same raw token: the signature, made
    # for the `test` tenant, still does not open it.
    with tenant_context(other_tenant):
        twin = SubscriberFactory(email="twin@example.com")
        Subscriber.objects.filter(pk=twin.pk).update(manage_token=ada.manage_token)
    connection.set_tenant(tenant_db)
    signed = manage_token_sign(ada.manage_token)
    elsewhere = Client(HTTP_HOST="other.localhost", enforce_csrf_checks=True)
    for path in (f"/subscriptions/{signed}/", f"/unsubscribe/{signed}/"):
        assert elsewhere.get(path).status_code == 404
    assert (
        elsewhere.post(f"/unsubscribe/{signed}/", ONE_CLICK, content_type=FORM).status_code == 404
    )
    assert elsewhere.get(f"/subscriptions/{signed}/confirm/?sig=x").status_code == 404
    with tenant_context(other_tenant):
        twin.refresh_from_db()
        assert twin.unsubscribed_at is None
        assert not Suppression.objects.exists()
        assert (
            elsewhere.post(
                f"/unsubscribe/{manage_token_sign(ada.manage_token)}/", ONE_CLICK, content_type=FORM
            ).status_code
            == 200
        )  # signed for that tenant, the same token works there
    connection.set_tenant(tenant_db)
    ada.refresh_from_db()
    assert ada.unsubscribed_at is None


def test_a_legacy_time_zone_set_by_staff_stays_selected(page, services) -> None:
    bob = SubscriberFactory(email="bob@example.com", time_zone="US/Eastern")
    html = page.get(manage(bob)).content.decode()
    assert '<option value="US/Eastern" selected>' in html
    assert '<option value="America/New_York">New York</option>' in html
