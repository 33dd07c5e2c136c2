"""/api/v1/customers/, /api/v1/subscribers/, /api/v1/segments/: the OpenAPI round trip,
what API clients see and change, roles, and tenant isolation of every endpoint."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.core.models import AuditEvent
from apps.core.services import apikey_create
from apps.incidents import services as incidents
from apps.subscribers import selectors
from apps.subscribers.models import Customer, Segment, Subscriber, Suppression
from apps.subscribers.services import subscriber_unsubscribe
from tests.conftest import OTHER_HOST, TEST_HOST
from tests.factories import (
    CustomerFactory,
    RegionFactory,
    SegmentFactory,
    ServiceFactory,
    SubscriberFactory,
)
from tests.openapi import CheckedClient, _id, call, fill, management_operations, openapi

RESOURCES = ("customers", "subscribers", "segments")


@pytest.fixture
def api(api_key) -> CheckedClient:
    return CheckedClient(TEST_HOST, api_key[1])


@pytest.fixture
def viewer(tenant_db) -> CheckedClient:
    _, raw = apikey_create(name="Wallboard", role="viewer", actor="pytest")
    return CheckedClient(TEST_HOST, raw)


@pytest.fixture
def other_api(tenant_db, other_tenant) -> CheckedClient:
    with tenant_context(other_tenant):
        _, raw = apikey_create(name="Other tenant", actor="pytest")
    return CheckedClient(OTHER_HOST, raw)


@pytest.fixture
def world(tenant_db) -> dict[str, Any]:
    """One object for every endpoint of the `test` tenant."""
    eu = RegionFactory(code="eu", name="Europe")
    api_service = ServiceFactory(slug="api")
    ServiceFactory(slug="payments")
    acme = CustomerFactory(external_key="acme-1", name="Acme", tier="enterprise", region=eu)
    CustomerFactory(external_key="empty-1", name="No people")
    subscriber = SubscriberFactory(
        name="Ann", email="ann@example.com", customer=acme, subscription__services=[api_service]
    )
    pending = SubscriberFactory(name="Pending", email="pending@example.com", unconfirmed=True)
    gone = SubscriberFactory(name="Gone", email="gone@example.com")
    subscriber_unsubscribe(subscriber=gone, actor="pytest")
    hooked = SubscriberFactory(
        name="Hooked",
        webhook_url="https://hooks.example.net/acme",
        webhook_disabled_at=timezone.now(),
        webhook_disabled_reason="5 deliveries failed in a row; last: HTTP 410",
        webhook_failures=5,
    )
    segment = SegmentFactory(name="Enterprise", tiers=["enterprise"])
    return {
        "hooked": hooked.pk,
        "customer": "acme-1",
        "empty_customer": "empty-1",
        "subscriber": subscriber.pk,
        "pending": pending.pk,
        "gone": gone.pk,
        "segment": segment.pk,
    }


READS = [
    "/api/v1/customers/",
    "/api/v1/customers/{customer}/",
    "/api/v1/subscribers/",
    "/api/v1/subscribers/{subscriber}/",
    "/api/v1/segments/",
    "/api/v1/segments/{segment}/",
    "/api/v1/segments/{segment}/preview/",
]
DETAIL_READS = [p for p in READS if "{" in p]
CREATES = [
    ("post", "/api/v1/customers/", {"external_key": "globex", "name": "Globex"}),
    ("post", "/api/v1/subscribers/", {"email": "new@example.com", "services": "all"}),
    ("post", "/api/v1/segments/", {"name": "Europe", "regions": ["eu"]}),
]
DETAIL_WRITES = [
    ("patch", "/api/v1/customers/{customer}/", {"tier": "business"}),
    ("delete", "/api/v1/customers/{empty_customer}/", None),
    ("patch", "/api/v1/subscribers/{subscriber}/", {"name": "Ann Smith"}),
    ("post", "/api/v1/subscribers/{pending}/confirm/", None),
    ("post", "/api/v1/subscribers/{hooked}/webhook-enable/", None),
    ("post", "/api/v1/subscribers/{subscriber}/unsubscribe/", {"note": "Asked by phone."}),
    ("delete", "/api/v1/subscribers/{subscriber}/", None),
    ("patch", "/api/v1/segments/{segment}/", {"tiers": ["business"]}),
    ("delete", "/api/v1/segments/{segment}/", None),
]
WRITES = CREATES + DETAIL_WRITES


def _concrete(template: str, world: dict[str, Any], *, missing: bool = False) -> str:
    if "{" not in template:
        return template + ("?page=999" if missing else "")
    kind = template.split("/")[3]
    value = {
        "customers": ("no-such-customer", world["customer"]),
        "subscribers": (987654321, world["subscriber"]),
        "segments": (987654321, world["segment"]),
    }[kind][0 if missing else 1]
    return re.sub(r"\{[^}]+\}", str(value), template)


def test_every_operation_documents_its_errors_with_the_error_body(tenant_db) -> None:
    operations = management_operations(openapi(), resources=RESOURCES)
    assert len(operations) == 19
    for template, method, operation in operations:
        responses = operation["responses"]
        assert "401" in responses, (method, template)
        if method != "get":
            assert "403" in responses, (method, template)
        if "{" in template:
            assert "404" in responses, (method, template)
        for code, response in responses.items():
            if code.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, template)


def test_every_documented_response_is_produced_and_matches_the_schema(
    world, api, viewer, tenant_db
) -> None:
    document = openapi()
    anonymous = CheckedClient(TEST_HOST)
    for template, method, operation in management_operations(document, resources=RESOURCES):
        responses = operation["responses"]
        assert call(anonymous, method, _concrete(template, world)).status_code == 401
        if "403" in responses:
            assert call(viewer, method, _concrete(template, world)).status_code == 403
        if "404" in responses:
            path = _concrete(template, world, missing=True)
            assert call(api, method, path).status_code == 404, path

    def expect(code: int, method: str, path: str, body: Any = None) -> Any:
        response = call(api, method, fill(path, world), fill(body, world))
        assert response.status_code == code, (method, path, response.content)
        return response.json() if response.content else None

    # customers
    expect(200, "get", "/api/v1/customers/?tier=enterprise&active=true&search=acme")
    expect(400, "get", "/api/v1/customers/?tier=gold")
    expect(201, "post", "/api/v1/customers/", {"external_key": "globex", "name": "Globex"})
    expect(200, "post", "/api/v1/customers/", {"external_key": "globex", "tier": "business"})
    expect(400, "post", "/api/v1/customers/", {"external_key": "bad key!", "name": "Bad"})
    expect(200, "get", "/api/v1/customers/{customer}/")
    expect(200, "patch", "/api/v1/customers/{customer}/", {"monthly_fee": "1250.00"})
    expect(400, "patch", "/api/v1/customers/{customer}/", {"external_key": "acme-2"})
    expect(409, "delete", "/api/v1/customers/{customer}/")
    expect(204, "delete", "/api/v1/customers/{empty_customer}/")

    # subscribers
    expect(200, "get", "/api/v1/subscribers/?customer=acme-1&confirmed=true")
    expect(400, "get", "/api/v1/subscribers/?source=carrier-pigeon")
    expect(
        201,
        "post",
        "/api/v1/subscribers/",
        {
            "email": "Bob@Example.com",
            "phone": "+1 415 555 0100",
            "customer": "acme-1",
            "services": ["api"],
            "channels": ["email", "sms", "webhook"],
            "webhook_url": "https://hooks.example.net/status",
            "skip_confirmation": True,
        },
    )
    expect(400, "post", "/api/v1/subscribers/", {"phone": "555-0100"})
    expect(409, "post", "/api/v1/subscribers/", {"email": "ann@example.com"})
    expect(200, "get", "/api/v1/subscribers/{subscriber}/")
    expect(200, "patch", "/api/v1/subscribers/{subscriber}/", {"kinds": ["incidents"]})
    expect(400, "patch", "/api/v1/subscribers/{subscriber}/", {"channels": ["sms"]})
    expect(409, "patch", "/api/v1/subscribers/{subscriber}/", {"email": "pending@example.com"})
    expect(200, "post", "/api/v1/subscribers/{pending}/confirm/")
    expect(409, "post", "/api/v1/subscribers/{gone}/confirm/")
    expect(200, "post", "/api/v1/subscribers/{hooked}/webhook-enable/")
    expect(409, "post", "/api/v1/subscribers/{subscriber}/webhook-enable/")  # no webhook URL
    expect(400, "post", "/api/v1/subscribers/{subscriber}/unsubscribe/", {"note": ["x"]})
    expect(200, "post", "/api/v1/subscribers/{subscriber}/unsubscribe/", {})
    expect(204, "delete", "/api/v1/subscribers/{subscriber}/")

    # segments
    expect(200, "get", "/api/v1/segments/")
    expect(201, "post", "/api/v1/segments/", {"name": "Europe", "regions": ["eu"]})
    expect(400, "post", "/api/v1/segments/", {"name": "Gold", "tiers": ["gold"]})
    expect(200, "get", "/api/v1/segments/{segment}/")
    expect(200, "patch", "/api/v1/segments/{segment}/", {"services": ["api"]})
    expect(400, "patch", "/api/v1/segments/{segment}/", {"regions": ["mars"]})
    expect(200, "get", "/api/v1/segments/{segment}/preview/?sample=5")
    expect(400, "get", "/api/v1/segments/{segment}/preview/?sample=-1")
    expect(204, "delete", "/api/v1/segments/{segment}/")

    documented = {
        (template, method, code)
        for template, method, operation in management_operations(document, resources=RESOURCES)
        for code in operation["responses"]
    }
    produced = api.seen | viewer.seen | anonymous.seen
    assert documented - produced == set()
    assert produced <= documented


# --- what clients see and change ----------------------------------------------------------


def test_a_tenant_brings_its_own_customers_already_confirmed(world, api) -> None:
    """`skip_confirmation` subscribes someone at once (source api); they are in the next
    incident's audience. Without it they wait for their confirmation."""
    response = api.post(
        "/api/v1/subscribers/",
        {
            "email": " Bob@Example.COM ",
            "phone": "0044 20 7946 0958",
            "name": "Bob",
            "customer": "acme-1",
            "region": "eu",
            "time_zone": "Europe/London",
            "services": ["api"],
            "channels": ["email", "sms"],
            "kinds": ["incidents", "maintenance"],
            "skip_confirmation": True,
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "bob@example.com"
    assert body["phone"] == "+442079460958"
    assert (body["customer"], body["region"], body["time_zone"]) == (
        "acme-1",
        "eu",
        "Europe/London",
    )
    assert (body["all_services"], body["services"]) == (False, ["api"])
    assert body["reachable_channels"] == ["email", "sms"]
    assert (body["confirmed"], body["source"]) == (True, "api")
    assert body["webhook_secret"] is None

    pending = api.post("/api/v1/subscribers/", {"email": "carol@example.com"}).json()
    assert pending["confirmed"] is False
    assert (pending["all_services"], pending["kinds"]) == (
        True,
        ["incidents", "maintenance", "postmortems"],
    )

    incident = incidents.incident_open(
        title="API down", severity="P1", services={"api": "major_outage"}, actor="pytest"
    )
    audience = selectors.audience_for(incident=incident, channel="email")
    emails = set(audience.values_list("email", flat=True))
    assert "bob@example.com" in emails
    assert "carol@example.com" not in emails


def test_the_webhook_secret_is_shown_once(world, api) -> None:
    created = api.post(
        "/api/v1/subscribers/",
        {"webhook_url": "https://hooks.example.net/status", "skip_confirmation": True},
    ).json()
    assert created["webhook_secret"].startswith("whsec_")
    assert created["reachable_channels"] == ["webhook"]
    path = f"/api/v1/subscribers/{created['id']}/"
    assert api.get(path).json()["webhook_secret"] is None
    assert api.patch(path, {"name": "Status hook"}).json()["webhook_secret"] is None
    rotated = api.patch(path, {"webhook_url": "https://hooks.example.net/v2"}).json()
    assert rotated["webhook_secret"].startswith("whsec_")
    assert rotated["webhook_secret"] != created["webhook_secret"]


def test_a_webhook_turned_off_for_failing_is_shown_and_turned_back_on(world, api) -> None:
    shown = api.get(f"/api/v1/subscribers/{world['hooked']}/").json()
    assert shown["webhook_disabled_at"] is not None and shown["webhook_failures"] == 5
    assert shown["webhook_disabled_reason"].startswith("5 deliveries failed in a row")
    again = api.post(f"/api/v1/subscribers/{world['hooked']}/webhook-enable/").json()
    assert again["webhook_disabled_at"] is None and again["webhook_failures"] == 0
    assert again["webhook_disabled_reason"] == ""
    assert AuditEvent.objects.filter(action="subscriber.webhook_enabled").count() == 1
    api.post(f"/api/v1/subscribers/{world['hooked']}/webhook-enable/")  # on already: no-op
    assert AuditEvent.objects.filter(action="subscriber.webhook_enabled").count() == 1
    refused = api.post(f"/api/v1/subscribers/{world['subscriber']}/webhook-enable/").json()
    assert refused["error"]["fields"] == {"webhook_url": ["Set a webhook URL first."]}


def test_refusals_name_the_field_and_say_what_to_do(world, api) -> None:
    response = api.post(
        "/api/v1/subscribers/",
        {
            "email": "not-an-address",
            "webhook_url": "http://10.0.0.7/hook",
            "customer": "nobody",
            "services": ["api", "mainframe"],
            "channels": ["fax"],
        },
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert fields == {
        "channels": ['Item 1: "fax" is not valid: use one of email, sms, webhook, slack, teams.']
    }

    response = api.post(
        "/api/v1/subscribers/",
        {
            "email": "not-an-address",
            "webhook_url": "http://10.0.0.7/hook",
            "customer": "nobody",
            "services": ["api", "mainframe"],
        },
    )
    fields = response.json()["error"]["fields"]
    assert fields["email"][0].startswith("'not-an-address' is not a valid e-mail address")
    assert fields["webhook_url"] == [
        "10.0.0.7 is not a public address; give a URL on the public internet."
    ]
    assert fields["customer"] == ["There is no customer with the key 'nobody' in this tenant."]
    assert fields["services"] == [
        "Unknown service(s): mainframe. Use the slugs listed at /api/v1/services/."
    ]
    assert not Subscriber.objects.filter(webhook_url__contains="10.0.0.7").exists()

    response = api.post("/api/v1/subscribers/", {"email": "x@example.com", "confirmed": True})
    assert response.json()["error"]["fields"] == {
        "confirmed": ["Send skip_confirmation: true to create it confirmed."]
    }


def test_unsubscribing_suppresses_the_addresses_and_cannot_be_undone_by_the_tenant(
    world, api
) -> None:
    path = "/api/v1/subscribers/{subscriber}/".format(**world)
    api.patch(path, {"phone": "+14155550100"})
    body = api.post(path + "unsubscribe/", {"note": "Asked by phone."}).json()
    assert body["unsubscribed_at"] is not None
    assert set(Suppression.objects.values_list("channel", "address", "reason")) >= {
        ("email", "ann@example.com", "unsubscribed"),
        ("sms", "+14155550100", "unsubscribed"),
    }
    response = api.post(path + "confirm/")
    assert response.status_code == 409
    assert "only they can subscribe again" in response.json()["error"]["message"]


def test_customers_are_created_or_updated_by_their_key(world, api) -> None:
    response = api.post(
        "/api/v1/customers/",
        {
            "external_key": "globex",
            "name": "Globex",
            "tier": "enterprise",
            "region": "eu",
            "monthly_fee": "4999.00",
            "currency": "eur",
            "salesforce_account_id": "0015g00000AbCdEAAV",
        },
    )
    assert response.status_code == 201
    assert response.json()["currency"] == "EUR"
    again = api.post("/api/v1/customers/", {"external_key": "globex", "active": False})
    assert again.status_code == 200
    body = again.json()
    assert (body["name"], body["tier"], body["active"], body["monthly_fee"]) == (
        "Globex",
        "enterprise",
        False,
        "4999.00",
    )
    clash = api.post(
        "/api/v1/customers/",
        {
            "external_key": "initech",
            "name": "Initech",
            "salesforce_account_id": "0015g00000AbCdEAAV",
        },
    )
    assert clash.status_code == 400
    assert clash.json()["error"]["fields"] == {
        "salesforce_account_id": ["This Salesforce account is already linked to Globex (globex)."]
    }
    listed = api.get("/api/v1/customers/?active=false").json()
    assert [c["external_key"] for c in listed["results"]] == ["globex"]


def test_a_segment_preview_counts_its_members_and_shows_a_sample(world, api) -> None:
    for n in range(12):
        SubscriberFactory(name=f"E{n}", customer=Customer.objects.get(external_key="acme-1"))
    body = api.get("/api/v1/segments/{segment}/preview/?sample=3".format(**world)).json()
    assert body["count"] == 13  # Ann and the 12; the pending and the unsubscribed are not
    assert len(body["sample"]) == 3
    assert {s["customer"] for s in body["sample"]} == {"acme-1"}


def test_a_page_of_subscribers_costs_the_same_queries_for_one_or_many(world, api) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/v1/subscribers/").status_code == 200
        return len(captured)

    queries()
    few = queries()
    services = list(ServiceFactory.create_batch(2))
    for _ in range(5):
        SubscriberFactory(customer=CustomerFactory(), subscription__services=services)
    assert queries() == few


# --- roles --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", READS, ids=_id)
def test_a_viewer_key_reads_everything(world, viewer, path: str) -> None:
    assert viewer.get(fill(path, world)).status_code == 200


@pytest.mark.parametrize("case", WRITES, ids=_id)
def test_a_viewer_key_changes_nothing(world, viewer, case) -> None:
    method, path, body = case
    before = Customer.objects.count(), Subscriber.objects.count(), Segment.objects.count()
    response = call(viewer, method, fill(path, world), fill(body, world))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    after = Customer.objects.count(), Subscriber.objects.count(), Segment.objects.count()
    assert after == before
    assert not AuditEvent.objects.filter(actor_label="API key Wallboard").exists()


@pytest.mark.parametrize("case", WRITES, ids=_id)
def test_a_responder_key_may_write(world, api, case) -> None:
    method, path, body = case
    response = call(api, method, fill(path, world), fill(body, world))
    assert response.status_code in (200, 201, 204), response.content
    assert AuditEvent.objects.filter(actor_label="API key Test suite").exists()


# --- tenant isolation ---------------------------------------------------------------------


@pytest.mark.parametrize("path", DETAIL_READS, ids=_id)
def test_another_tenants_key_cannot_see_this_tenants_objects(world, other_api, path) -> None:
    response = other_api.get(fill(path, world))
    assert response.status_code == 404
    assert response.json()["error"]["message"].endswith("in this tenant.")


@pytest.mark.parametrize("path", [p for p in READS if "{" not in p])
def test_another_tenants_lists_do_not_show_this_tenants_objects(world, other_api, path) -> None:
    response = other_api.get(path)
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("case", DETAIL_WRITES, ids=_id)
def test_another_tenants_key_cannot_change_this_tenants_objects(
    world, tenant_db, other_api, case
) -> None:
    method, path, body = case
    response = call(other_api, method, fill(path, world), fill(body, world))
    assert response.status_code == 404
    connection.set_tenant(tenant_db)  # the request left the connection on the other tenant
    assert not AuditEvent.objects.filter(actor_label__startswith="API key").exists()
    assert Customer.objects.get(external_key="acme-1").tier == "enterprise"
    assert Customer.objects.filter(external_key="empty-1").exists()
    ann = Subscriber.objects.get(pk=world["subscriber"])
    assert (ann.name, ann.unsubscribed_at) == ("Ann", None)
    assert Subscriber.objects.get(pk=world["pending"]).confirmed_at is None
    assert Subscriber.objects.get(pk=world["hooked"]).webhook_disabled_at is not None
    assert Segment.objects.get(pk=world["segment"]).tiers == ["enterprise"]


def test_another_tenants_customers_regions_and_services_are_unknown_here(
    world, other_tenant, other_api
) -> None:
    response = other_api.post(
        "/api/v1/subscribers/",
        {"email": "spy@example.com", "customer": "acme-1", "region": "eu", "services": ["api"]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "customer": ["There is no customer with the key 'acme-1' in this tenant."],
        "region": ["Unknown region 'eu'. Use the codes listed at /api/v1/regions/."],
        "services": ["Unknown service(s): api. Use the slugs listed at /api/v1/services/."],
    }
    response = other_api.post("/api/v1/segments/", {"name": "Spy", "customers": ["acme-1"]})
    assert response.json()["error"]["fields"] == {"customers": ["Unknown customer key(s): acme-1."]}


@pytest.mark.parametrize("case", [("get", p, None) for p in READS] + WRITES, ids=_id)
def test_this_tenants_key_is_unknown_on_another_tenants_host(world, api_key, case) -> None:
    method, path, body = case
    client = CheckedClient(OTHER_HOST, api_key[1])
    response = call(client, method, fill(path, world), fill(body, world))
    assert response.status_code == 401
