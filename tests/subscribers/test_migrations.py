"""Data migrations of customers and segments: what a tenant's existing rows become."""

from importlib import import_module

from django.apps import apps as django_apps
from django.db import connection

from apps.subscribers import selectors
from apps.subscribers.models import Customer, Segment
from apps.subscribers.services import segment_create, segment_update
from tests.factories import CustomerFactory, SegmentFactory

salesforce_ids = import_module("apps.subscribers.migrations.0004_salesforce_ids_18")
segment_limits = import_module("apps.subscribers.migrations.0005_segment_limits")


def test_stored_15_character_salesforce_ids_take_the_18_character_form(tenant_db) -> None:
    # As the admin and the import stored them before: the sync never matched them.
    CustomerFactory(external_key="acme", salesforce_account_id="0015g00000AbCdE")
    CustomerFactory(external_key="umbrella", salesforce_account_id="001A0000006Vm9r")
    CustomerFactory(external_key="globex", salesforce_account_id="0015g00000XyZzYAAH")
    CustomerFactory(external_key="initech", hubspot_company_id="123456789012345")
    # The duplicate the sync made of Umbrella: which one to keep is a person's call.
    CustomerFactory(external_key="salesforce-umbrella", salesforce_account_id="001A0000006Vm9rIAC")

    with connection.schema_editor() as editor:
        salesforce_ids.forwards(django_apps, editor)

    assert dict(Customer.objects.values_list("external_key", "salesforce_account_id")) == {
        "acme": "0015g00000AbCdEAAV",
        "umbrella": "001A0000006Vm9r",
        "globex": "0015g00000XyZzYAAH",
        "initech": "",
        "salesforce-umbrella": "001A0000006Vm9rIAC",
    }


def test_segments_remember_the_regions_and_services_they_were_aimed_at(
    tenant_db, regions, services
) -> None:
    aimed = segment_create(name="EU", regions=["eu"], actor="pytest")
    orphaned = segment_create(name="API users", services=["api"], actor="pytest")
    services["api"].delete()
    lifted = segment_create(name="Was EU", regions=["eu"], actor="pytest")
    segment_update(segment=lifted, regions=[], actor="pytest")
    SegmentFactory(name="Everyone")
    # As they were before the migration added the flags.
    Segment.objects.update(limits_regions=False, limits_services=False)

    with connection.schema_editor() as editor:
        segment_limits.forwards(django_apps, editor)

    assert sorted(Segment.objects.values_list("name", "limits_regions", "limits_services")) == [
        ("API users", False, True),  # its service was deleted: nobody, not everyone
        ("EU", True, False),
        ("Everyone", False, False),
        ("Was EU", False, False),  # emptied on purpose
    ]
    orphaned.refresh_from_db()
    assert not selectors.segment_members(orphaned).exists()
    aimed.refresh_from_db()
    assert aimed.limits_regions
