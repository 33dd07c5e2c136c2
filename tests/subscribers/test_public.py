"""`/subscribe/` and the confirmation link, as a visitor of a tenant's status page uses them:
no login, double opt-in by e-mail through a real SMTP server, clear errors, rate limits and
a honeypot."""

from __future__ import annotations

import re
import time
from email.message import Message
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.test import Client, override_settings

from apps.communications import delivery
from apps.communications.models import Delivery
from apps.communications.services import message_draft, message_publish
from apps.core.models import AuditEvent
from apps.incidents.services import incident_open
from apps.subscribers.models import Subscriber, Suppression
from apps.subscribers.selectors import audience_for
from apps.subscribers.services import subscriber_confirm, subscriber_unsubscribe
from apps.subscribers.tokens import confirm_signature, manage_token_sign
from tests.factories import SubscriberFactory, SuppressionFactory

ACTOR = "pytest"
WAYS = ("email", "sms", "webhook", "slack", "teams")


def subscribe(client: Client, via: str = "email", **data: object):
    return client.post(f"/subscribe/?via={via}", {"services_scope": "all", **data})


def text_of(message: Message) -> str:
    part = message.get_payload()[0] if message.is_multipart() else message
    return part.get_payload(decode=True).decode()


def confirm_path(message: Message) -> str:
    """The path (and query) of the confirmation link in an e-mail."""
    url = re.search(r"https?://\S+/confirm/\?sig=\S+", text_of(message)).group(0)
    parts = urlsplit(url)
    assert parts.hostname == "test.localhost"
    return f"{parts.path}?{parts.query}"


class Inputs(HTMLParser):
    """The ids of a page's visible inputs and selects, and the ids its labels point at."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[str] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.inputs.append(a.get("id") or "<no id>")
        if tag == "label" and a.get("for"):
            self.labelled.add(a["for"])


# --- the form -------------------------------------------------------------------------------


@pytest.mark.parametrize("via", WAYS)
def test_every_way_to_subscribe_has_a_form_with_a_label_for_every_input(page, services, via):
    response = page.get(f"/subscribe/?via={via}")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Subscribe to updates" in html and 'aria-current="page"' in html
    for way in WAYS:
        assert f'href="?via={way}"' in html
    inputs = Inputs()
    inputs.feed(html)
    assert inputs.inputs and set(inputs.inputs) <= inputs.labelled
    assert "Payments" in html and "All services, including ones added later" in html
    assert "<div hidden>" in html  # the honeypot, never seen by a person


def test_the_status_page_footer_leads_to_the_form(page, services) -> None:
    assert 'href="/subscribe/"' in page.get("/").content.decode()
    assert page.get("/subscribe/").status_code == 200


# --- e-mail: double opt-in ------------------------------------------------------------------


def test_an_email_subscription_is_confirmed_by_the_link_that_arrives_by_smtp(page, services, smtp):
    response = subscribe(
        page, email="Ada@Example.com", name="Ada", services_scope="chosen", services=["payments"]
    )
    assert response.status_code == 200
    assert "Check your inbox" in response.content.decode()
    ada = Subscriber.objects.get(email="ada@example.com")
    assert not ada.confirmed and ada.source == "self"
    assert not ada.subscription.all_services
    assert [s.slug for s in ada.subscription.services.all()] == ["payments"]
    assert ada.subscription.channels == ["email"]
    [mail] = smtp.to("ada@example.com")
    assert mail["Subject"] == "Confirm your subscription to Test Tenant status updates"
    assert text_of(mail).startswith("Hello Ada,")
    link = confirm_path(mail)

    opened = page.get(link)  # what a mail scanner's prefetch does: nothing changes
    assert opened.status_code == 200 and "Confirm subscription" in opened.content.decode()
    ada.refresh_from_db()
    assert not ada.confirmed

    confirmed = page.post(link, follow=True)
    ada.refresh_from_db()
    assert ada.confirmed and ada.unsubscribed_at is None
    assert "your subscription is confirmed" in confirmed.content.decode()
    assert confirmed.redirect_chain[0][0].startswith(
        f"/subscriptions/{manage_token_sign(ada.manage_token)}/"
    )
    assert len(smtp.accepted) == 1  # the confirmation, nothing else
    assert AuditEvent.objects.filter(
        action="subscriber.confirmed", object_id=str(ada.pk), actor_label__contains="subscriber"
    ).exists()


def test_nothing_but_the_confirmation_reaches_an_unconfirmed_subscriber(page, services, smtp):
    subscribe(page, email="ada@example.com")
    ada = Subscriber.objects.get(email="ada@example.com")
    incident = incident_open(
        title="Payments failing",
        severity="P2",
        services={"payments": "major_outage"},
        body="We are investigating failed card payments.",
        actor=ACTOR,
    )
    assert ada not in audience_for(incident=incident, channel="email")
    message = message_publish(
        message=message_draft(
            kind="initial_alert", update=incident.updates.get(), channels=["email"], actor=ACTOR
        ),
        actor=ACTOR,
        approver=True,
    )
    delivery.fanout(message.pk)
    assert not Delivery.objects.filter(subscriber=ada).exists()
    assert [m["Subject"] for m in smtp.to("ada@example.com")] == [
        "Confirm your subscription to Test Tenant status updates"
    ]

    page.post(confirm_path(smtp.to("ada@example.com")[0]))
    assert ada in audience_for(incident=incident, channel="email")


def test_a_tampered_confirmation_link_confirms_nothing(page, services, smtp) -> None:
    subscribe(page, email="ada@example.com")
    link = confirm_path(smtp.to("ada@example.com")[0])
    path, sig = link.split("?sig=")
    forged = f"{path}?sig={sig[:-3]}{'AAA' if not sig.endswith('AAA') else 'BBB'}"
    for response in (page.get(forged), page.post(forged), page.post(path)):
        assert response.status_code == 400
        assert "This confirmation link is not valid" in response.content.decode()
    assert not Subscriber.objects.get(email="ada@example.com").confirmed


def test_a_link_made_for_another_subscriber_confirms_nothing(page, services, mailoutbox):
    subscribe(page, email="ada@example.com")
    subscribe(page, email="bob@example.com")
    ada, bob = (Subscriber.objects.get(email=f"{n}@example.com") for n in ("ada", "bob"))
    response = page.post(
        f"/subscriptions/{manage_token_sign(bob.manage_token)}/confirm/?sig="
        f"{confirm_signature(ada)}"
    )
    assert response.status_code == 400
    bob.refresh_from_db()
    assert not bob.confirmed


def test_an_expired_confirmation_link_says_so_and_confirms_nothing(
    page, services, monkeypatch
) -> None:
    subscribe(page, email="ada@example.com")
    ada = Subscriber.objects.get(email="ada@example.com")
    eight_days_ago = time.time() - 8 * 24 * 3600
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: eight_days_ago)
        sig = confirm_signature(ada)
    link = f"/subscriptions/{manage_token_sign(ada.manage_token)}/confirm/?sig={sig}"
    response = page.post(link)
    assert response.status_code == 400
    assert "This link has expired" in response.content.decode()
    ada.refresh_from_db()
    assert not ada.confirmed


def test_an_address_already_subscribed_is_told_so_and_the_page_reveals_nothing(
    page, services, smtp
) -> None:
    SubscriberFactory(email="ada@example.com")
    known = subscribe(page, email="ada@example.com").content.decode()
    unknown = subscribe(page, email="new@example.com").content.decode()
    assert "Check your inbox" in known
    assert known.replace("ada@example.com", "@") == unknown.replace("new@example.com", "@")
    assert Subscriber.objects.filter(email="ada@example.com").count() == 1
    [mail] = smtp.to("ada@example.com")
    assert mail["Subject"] == "You are already subscribed to Test Tenant status updates"
    assert "/subscriptions/" in text_of(mail) and "/confirm/" not in text_of(mail)


def test_someone_who_left_comes_back_only_through_the_confirmation_link(
    page, services, smtp
) -> None:
    ada = SubscriberFactory(email="ada@example.com")
    subscriber_unsubscribe(subscriber=ada, actor=ACTOR)
    assert Suppression.objects.filter(address="ada@example.com").exists()
    subscribe(page, email="ada@example.com")
    ada.refresh_from_db()
    assert ada.unsubscribed_at is not None  # asking is not enough
    [mail] = smtp.to("ada@example.com")
    page.post(confirm_path(mail))
    ada.refresh_from_db()
    assert ada.unsubscribed_at is None and ada.confirmed
    assert not Suppression.objects.filter(address="ada@example.com").exists()


def test_an_address_that_bounced_is_sent_nothing(page, services, mailoutbox) -> None:
    SuppressionFactory(address="gone@example.com", reason="bounced")
    response = subscribe(page, email="gone@example.com")
    assert "Check your inbox" in response.content.decode()
    assert mailoutbox == [] and not Subscriber.objects.exists()


def test_a_mail_server_refusal_is_explained(page, services, smtp) -> None:
    smtp.refuse["ada@example.com"] = "550 5.1.1 No such user"
    response = subscribe(page, email="ada@example.com")
    assert response.status_code == 503
    assert "We could not send the e-mail" in response.content.decode()


# --- errors ---------------------------------------------------------------------------------


def test_a_bad_email_address_is_explained_next_to_the_field_and_kept(page, services) -> None:
    response = subscribe(page, email="ada@", name="Ada")
    html = response.content.decode()
    assert response.status_code == 400
    assert "&#x27;ada@&#x27; is not a valid e-mail address" in html
    assert 'id="id_email_error"' in html
    field = re.search(r"<input[^>]*name=\"email\"[^>]*>", html).group(0)
    assert 'value="ada@"' in field and 'aria-invalid="true"' in field
    assert 'aria-describedby="id_email_error"' in field
    assert 'href="#id_email"' in html  # the summary on top links to the field
    assert re.search(r'name="name"[^>]*value="Ada"|value="Ada"[^>]*name="name"', html)
    assert not Subscriber.objects.exists()


def test_sms_needs_a_valid_phone_number_and_an_email_for_the_confirmation(
    page, services, mailoutbox
) -> None:
    response = subscribe(page, "sms", phone="555-0123")
    html = response.content.decode()
    assert response.status_code == 400
    assert "is not a phone number: give it in international format" in html
    assert 'id="id_phone_error"' in html and 'value="555-0123"' in html
    assert 'id="id_email_error"' in html  # the e-mail address is required too
    assert not Subscriber.objects.exists() and mailoutbox == []

    response = subscribe(page, "sms", phone="+1 415 555 0123", email="ada@example.com")
    assert "Check your inbox" in response.content.decode()
    ada = Subscriber.objects.get()
    assert ada.phone == "+14155550123" and ada.email == "ada@example.com"
    assert ada.subscription.channels == ["sms", "email"] and not ada.confirmed
    [mail] = mailoutbox
    assert mail.to == ["ada@example.com"] and "/confirm/?sig=" in mail.body


def test_an_sms_subscriber_who_is_not_an_enterprise_contact_still_hears_by_email(
    page, services, mailoutbox
) -> None:
    """Texts go to enterprise customers' contacts only; someone signing up on the page is
    nobody's contact yet, so the updates go to their e-mail address too (and the page says
    so), instead of a confirmed subscription that never sends anything."""
    html = page.get("/subscribe/?via=sms").content.decode()
    assert "Text messages go to the contacts of our enterprise customers" in html
    subscribe(page, "sms", phone="+33612345678", email="ada@example.com")
    ada = Subscriber.objects.get()
    assert ada.subscription.channels == ["sms", "email"]
    subscriber_confirm(subscriber=ada, actor="pytest")
    incident = incident_open(
        title="Payments failing",
        severity="P1",
        services={"payments": "major_outage"},
        body="Card payments fail.",
        actor="pytest",
    )
    assert list(audience_for(incident=incident, channel="sms")) == []  # not an enterprise contact
    assert list(audience_for(incident=incident, channel="email")) == [ada]


def test_choosing_services_needs_at_least_one_ticked(page, services) -> None:
    response = subscribe(page, email="ada@example.com", services_scope="chosen")
    assert response.status_code == 400
    assert "Tick at least one service" in response.content.decode()
    response = subscribe(page, email="ada@example.com", services_scope="chosen", services=["nope"])
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Subscriber.objects.exists()


# --- webhook, Slack, Teams: confirmed at once -----------------------------------------------


def test_a_webhook_subscription_shows_its_secret_once(page, services, mailoutbox) -> None:
    response = subscribe(page, "webhook", webhook_url="https://hooks.example.com/status")
    html = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    hook = Subscriber.objects.get()
    assert hook.confirmed and hook.subscription.channels == ["webhook"]
    assert hook.webhook_secret.startswith("whsec_") and hook.webhook_secret in html
    assert "shown only this once" in html
    manage = re.search(r'href="(http://test\.localhost(/subscriptions/[^"]+/))"', html).group(2)
    again = page.get(manage).content.decode()
    assert "Your subscription" in again and "hooks.example.com" in again
    assert hook.webhook_secret not in again and "whsec_" not in again
    assert mailoutbox == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://2130706433/hook",
        "http://printer.local/hook",
    ],
)
def test_a_webhook_on_a_private_network_is_refused(page, services, url) -> None:
    response = subscribe(page, "webhook", webhook_url=url)
    html = response.content.decode()
    assert response.status_code == 400
    assert "is not a public address; give a URL on the public internet" in html
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "javascript:alert(1)", "example"])
def test_a_webhook_url_must_be_http_or_https(page, services, url) -> None:
    response = subscribe(page, "webhook", webhook_url=url)
    assert response.status_code == 400
    assert "it must start with http:// or https://" in response.content.decode()
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    ("via", "field"), [("slack", "slack_webhook_url"), ("teams", "teams_webhook_url")]
)
def test_slack_and_teams_webhooks_must_be_https_and_start_at_once(page, services, via, field):
    refused = subscribe(page, via, **{field: "http://hooks.example.com/x"})
    assert refused.status_code == 400 and "must start with https://" in refused.content.decode()
    accepted = subscribe(page, via, **{field: "https://hooks.example.com/T000/B000/xyz"})
    html = accepted.content.decode()
    assert "You are subscribed" in html and "whsec_" not in html
    endpoint = Subscriber.objects.get()
    assert endpoint.confirmed and endpoint.subscription.channels == [via]
    assert "/T000/B000/xyz" not in html  # the URL is a credential: shown by its host only


# --- honeypot and rate limits ---------------------------------------------------------------


def test_a_filled_honeypot_is_answered_as_usual_but_creates_nothing(
    page, services, mailoutbox
) -> None:
    response = subscribe(page, email="bot@example.com", website="https://spam.example")
    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    assert not Subscriber.objects.exists() and mailoutbox == []


@override_settings(CLARION_SUBSCRIBE_LIMIT_PER_IP=(2, 3600))
def test_honeypot_hits_count_against_the_client(page, services) -> None:
    subscribe(page, email="bot1@example.com", website="x")
    subscribe(page, email="bot2@example.com", website="x")
    assert subscribe(page, email="ada@example.com").status_code == 429


def test_eleven_requests_an_hour_from_one_address_are_one_too_many(
    page, services, mailoutbox
) -> None:
    for n in range(10):
        assert subscribe(page, email=f"person{n}@example.com").status_code == 200
    response = subscribe(page, email="person10@example.com")
    html = response.content.decode()
    assert response.status_code == 429
    assert "Too many attempts" in html and "try again in about" in html
    assert 0 < int(response["Retry-After"]) <= 3600
    assert not Subscriber.objects.filter(email="person10@example.com").exists()
    assert len(mailoutbox) == 10
    elsewhere = Client(HTTP_HOST="test.localhost", REMOTE_ADDR="203.0.113.9")
    assert subscribe(elsewhere, email="person10@example.com").status_code == 200


def test_invalid_requests_count_against_the_client_too(page, services) -> None:
    with override_settings(CLARION_SUBSCRIBE_LIMIT_PER_IP=(3, 3600)):
        for _ in range(3):
            assert subscribe(page, email="nope").status_code == 400
        assert subscribe(page, email="ada@example.com").status_code == 429


def test_behind_a_proxy_each_client_is_counted_by_the_proxys_header(tenant_db, services) -> None:
    """With CLARION_CLIENT_IP_HEADER, clients behind one reverse proxy (one REMOTE_ADDR)
    have a limit each; without it they would share the proxy's."""
    proxy = {"HTTP_HOST": "test.localhost", "REMOTE_ADDR": "10.0.0.2"}
    with override_settings(CLARION_SUBSCRIBE_LIMIT_PER_IP=(1, 3600)):
        with override_settings(CLARION_CLIENT_IP_HEADER="X-Real-IP"):
            ada = Client(**proxy, HTTP_X_REAL_IP="198.51.100.7")
            bob = Client(**proxy, HTTP_X_REAL_IP="198.51.100.8")
            assert subscribe(ada, email="ada@example.com").status_code == 200
            assert subscribe(bob, email="bob@example.com").status_code == 200
            assert subscribe(ada, email="ada2@example.com").status_code == 429
        shared = Client(**proxy)
        assert subscribe(shared, email="cy@example.com").status_code == 200
        assert subscribe(shared, email="dee@example.com").status_code == 429


def test_ipv6_clients_are_counted_by_their_64_network(tenant_db, services) -> None:
    with override_settings(CLARION_SUBSCRIBE_LIMIT_PER_IP=(1, 3600)):
        one = Client(HTTP_HOST="test.localhost", REMOTE_ADDR="2001:db8:1:2::10")
        same_network = Client(HTTP_HOST="test.localhost", REMOTE_ADDR="2001:db8:1:2::99")
        other_network = Client(HTTP_HOST="test.localhost", REMOTE_ADDR="2001:db8:1:3::10")
        assert subscribe(one, email="a@example.com").status_code == 200
        assert subscribe(same_network, email="b@example.com").status_code == 429
        assert subscribe(other_network, email="c@example.com").status_code == 200


def test_four_requests_an_hour_for_one_address_are_one_too_many(
    tenant_db, services, mailoutbox
) -> None:
    for n in range(3):
        client = Client(HTTP_HOST="test.localhost", REMOTE_ADDR=f"203.0.113.{n + 1}")
        assert subscribe(client, email="ada@example.com").status_code == 200
    client = Client(HTTP_HOST="test.localhost", REMOTE_ADDR="203.0.113.50")
    assert subscribe(client, email="ADA@example.com").status_code == 429
    assert len(mailoutbox) == 3  # one confirmation, then the same link twice more
    assert {m.to[0] for m in mailoutbox} == {"ada@example.com"}
    assert subscribe(client, email="bob@example.com").status_code == 200


def test_the_address_limit_covers_phone_numbers_and_webhook_urls(tenant_db, services) -> None:
    with override_settings(CLARION_SUBSCRIBE_LIMIT_PER_ADDRESS=(1, 3600)):
        first = Client(HTTP_HOST="test.localhost", REMOTE_ADDR="203.0.113.1")
        second = Client(HTTP_HOST="test.localhost", REMOTE_ADDR="203.0.113.2")
        url = "https://hooks.example.com/status"
        assert subscribe(first, "webhook", webhook_url=url).status_code == 200
        assert subscribe(second, "webhook", webhook_url=url).status_code == 429
        phone = "+14155550123"
        assert subscribe(first, "sms", phone=phone, email="a@example.com").status_code == 200
        assert subscribe(second, "sms", phone=phone, email="b@example.com").status_code == 429
