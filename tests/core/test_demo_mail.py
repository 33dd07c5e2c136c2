"""The demo's mailbox: `make run` without EMAIL_URL sends e-mail to a local SMTP server that
keeps each message as a file and prints a line for it."""

import io
from email import message_from_bytes, policy

import environ
import pytest
from django.core.mail import EmailMessage, get_connection
from django.test import override_settings

from apps.communications import delivery
from apps.communications.models import Delivery
from apps.communications.services import message_draft, message_publish
from apps.incidents.services import incident_open
from config import mailsink, run
from tests.factories import RegionFactory, ServiceFactory, SubscriberFactory


@pytest.fixture
def mailbox(tmp_path):
    out = io.StringIO()
    sink = mailsink.start(tmp_path / "mail", out=out)
    yield sink, out
    sink.stop()


def _smtp_settings(url: str) -> dict[str, object]:
    """What the settings make of EMAIL_URL (config/settings/base.py)."""
    return environ.Env.email_url_config(url)


def test_the_mailbox_keeps_each_message_and_lists_it(mailbox) -> None:
    sink, out = mailbox
    with override_settings(**_smtp_settings(sink.url)):
        EmailMessage(
            "[P1] Payments failing", "Hello Ada,", "ops@example.com", ["ada@example.com"]
        ).send()
    (path,) = sink.directory.glob("*.eml")
    kept = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert kept["Subject"] == "[P1] Payments failing"
    assert kept.get_content().strip() == "Hello Ada,"
    assert out.getvalue() == f"mail  ada@example.com  [P1] Payments failing  -> {path}\n"


def test_a_published_p1_arrives_in_the_mailbox_one_file_per_subscriber(tenant_db, mailbox):
    sink, out = mailbox
    RegionFactory(code="eu", name="Europe")
    ServiceFactory(slug="payments", name="Payments")
    people = [SubscriberFactory(email=f"person{i}@example.com") for i in range(3)]
    incident = incident_open(
        title="Payments failing",
        severity="P1",
        services={"payments": "major_outage"},
        body="We are investigating failed card payments.",
        actor="pytest",
    )
    message = message_draft(
        kind="initial_alert", update=incident.updates.get(), channels=["email"], actor="pytest"
    )
    message = message_publish(message=message, actor="pytest", approver=True)
    with override_settings(**_smtp_settings(sink.url)):
        delivery.fanout(message.pk)
        delivery.send_batch(
            message.pk, "email", list(Delivery.objects.values_list("id", flat=True))
        )
    kept = [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(sink.directory.glob("*.eml"))
    ]
    assert sorted(m["To"] for m in kept) == sorted(p.email for p in people)
    assert {m["Subject"] for m in kept} == {"[P1] Payments failing"}
    assert out.getvalue().count("[P1] Payments failing") == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_make_run_uses_the_mailbox_only_without_email_url(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    monkeypatch.setenv("CLARION_EMBEDDED_DIR", str(tmp_path))
    monkeypatch.setenv("EMAIL_URL", "smtp://mail.example.com:587")
    assert run._mailbox() is None  # configured: left alone

    monkeypatch.delenv("EMAIL_URL")
    sink = run._mailbox()
    try:
        assert sink is not None and sink.directory == tmp_path / "mail"
        assert run.os.environ["EMAIL_URL"] == sink.url  # inherited by web, worker and beat
        with override_settings(**_smtp_settings(sink.url)):
            assert get_connection().open() is True  # it answers
    finally:
        if sink is not None:
            sink.stop()

    monkeypatch.delenv("EMAIL_URL")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.settings.production")
    assert run._mailbox() is None  # never outside development
