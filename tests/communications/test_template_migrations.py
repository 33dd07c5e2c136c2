"""Data migrations of the seeded wording: a tenant's template still in the old default takes
the new one; a template the tenant edited is left alone, both ways."""

from importlib import import_module

from django.apps import apps as django_apps
from django.db import connection

from apps.communications.defaults import DEFAULT_TEXTS
from apps.communications.models import MessageTemplate

regions_in_short_texts = import_module("apps.communications.migrations.0005_regions_in_short_texts")
wording = import_module("apps.communications.migrations.0006_wording_interval_and_credit")


def source(kind: str, channel: str) -> str:
    return MessageTemplate.objects.get(kind=kind, channel=channel, part="text").source


def test_short_texts_in_the_old_default_name_the_regions_edited_ones_stay(tenant_db) -> None:
    old = regions_in_short_texts.OLD["resolution"]
    MessageTemplate.objects.filter(kind="resolution", part="text").exclude(channel="social").update(
        source=old
    )
    MessageTemplate.objects.filter(kind="resolution", channel="social", part="text").update(
        source="{{ company }}: all good again. {{ status_page_url }}"
    )
    with connection.schema_editor() as editor:
        regions_in_short_texts.forwards(django_apps, editor)
    new = DEFAULT_TEXTS["resolution"][2]
    assert "{% if regions %} in {{ regions|join:', ' }}{% endif %}" in new
    assert source("resolution", "sms") == new
    assert source("resolution", "slack") == new
    assert source("resolution", "email") != new  # long texts are not touched
    assert source("resolution", "social") == "{{ company }}: all good again. {{ status_page_url }}"

    with connection.schema_editor() as editor:
        regions_in_short_texts.backwards(django_apps, editor)
    assert source("resolution", "sms") == old
    assert source("resolution", "social") == "{{ company }}: all good again. {{ status_page_url }}"


def test_the_credit_and_interval_promises_take_the_new_wording_unless_edited(tenant_db) -> None:
    credit = wording.OLD[("resolution", wording.LONG_CHANNELS, 1)]
    interval = wording.OLD[("extended_outage", wording.SHORT_CHANNELS, 2)]
    MessageTemplate.objects.filter(kind="resolution", part="text", channel="email").update(
        source=credit
    )
    MessageTemplate.objects.filter(kind="resolution", part="text", channel="status_page").update(
        source="{{ update }} Credits are applied within 5 business days."
    )
    MessageTemplate.objects.filter(kind="extended_outage", part="text", channel="sms").update(
        source=interval
    )
    with connection.schema_editor() as editor:
        wording.forwards(django_apps, editor)
    assert source("resolution", "email") == DEFAULT_TEXTS["resolution"][1]
    assert "5 business days" not in source("resolution", "email")
    assert source("resolution", "status_page").endswith("within 5 business days.")  # edited
    assert "{{ update_interval }}" in source("extended_outage", "sms")

    with connection.schema_editor() as editor:
        wording.backwards(django_apps, editor)
    assert source("resolution", "email") == credit
    assert source("extended_outage", "sms") == interval
