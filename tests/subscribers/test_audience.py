"""Who hears about an incident or a maintenance window on a channel (`audience_for`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.incidents import services as incidents
from apps.incidents.models import Incident, MaintenanceWindow
from apps.subscribers import selectors
from apps.subscribers.models import Subscriber
from apps.subscribers.services import subscriber_unsubscribe, suppression_add
from tests.factories import CustomerFactory, SegmentFactory, SubscriberFactory


def open_incident(
    *, severity: str = "P1", services: tuple[str, ...] = ("api",), regions=(), **kwargs
) -> Incident:
    return incidents.incident_open(
        title="Payments delayed",
        severity=severity,
        services=dict.fromkeys(services, "major_outage"),
        regions=list(regions),
        actor="pytest",
        **kwargs,
    )


def schedule(*, services: tuple[str, ...] = ("api",), regions=()) -> MaintenanceWindow:
    start = timezone.now() + timedelta(days=1)
    return incidents.maintenance_schedule(
        title="Database upgrade",
        services=list(services),
        regions=list(regions),
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        actor="pytest",
    )


def names(qs) -> set[str]:
    return set(qs.values_list("name", flat=True))


def email_audience(incident: Incident, **kwargs) -> set[str]:
    return names(selectors.audience_for(incident=incident, channel="email", **kwargs))


# --- region -------------------------------------------------------------------------------


def test_a_regional_incident_reaches_its_region_and_people_whose_region_is_unknown(
    regions, services
) -> None:
    eu_customer = CustomerFactory(region=regions["eu"])
    us_customer = CustomerFactory(region=regions["us"])
    SubscriberFactory(name="own region eu", region=regions["eu"])
    SubscriberFactory(name="customer in eu", customer=eu_customer)
    SubscriberFactory(name="unknown region")
    SubscriberFactory(name="customer region unknown", customer=CustomerFactory(region=None))
    SubscriberFactory(name="customer in us", customer=us_customer)
    SubscriberFactory(name="own region apac", region=regions["apac"])
    # A subscriber's own region wins over its customer's.
    SubscriberFactory(name="in us, customer in eu", customer=eu_customer, region=regions["us"])

    incident = open_incident(regions=["eu"])

    assert email_audience(incident) == {
        "own region eu",
        "customer in eu",
        "unknown region",
        "customer region unknown",
    }


def test_an_incident_in_several_regions_reaches_each_of_them(regions, services) -> None:
    for code in ("us", "eu", "apac"):
        SubscriberFactory(name=code, region=regions[code])
    assert email_audience(open_incident(regions=["eu", "apac"])) == {"eu", "apac"}


def test_a_global_incident_reaches_every_region(regions, services) -> None:
    for code in ("us", "eu", "apac"):
        SubscriberFactory(name=code, region=regions[code])
    SubscriberFactory(name="unknown")
    assert email_audience(open_incident(regions=[])) == {"us", "eu", "apac", "unknown"}


# --- services and kinds -------------------------------------------------------------------


def test_only_subscribers_of_an_affected_service_or_of_all_services_hear(services) -> None:
    SubscriberFactory(name="api", subscription__services=[services["api"]])
    SubscriberFactory(name="payments", subscription__services=[services["payments"]])
    SubscriberFactory(
        name="api and dashboard", subscription__services=[services["api"], services["dashboard"]]
    )
    SubscriberFactory(name="everything")

    assert email_audience(open_incident(services=("api",))) == {
        "api",
        "api and dashboard",
        "everything",
    }
    assert email_audience(open_incident(services=("payments", "dashboard"))) == {
        "payments",
        "api and dashboard",
        "everything",
    }


def test_an_incident_without_services_reaches_only_subscribers_of_all_services(services) -> None:
    SubscriberFactory(name="api", subscription__services=[services["api"]])
    SubscriberFactory(name="everything")
    assert email_audience(open_incident(services=())) == {"everything"}


def test_a_subscriber_hears_only_the_kinds_of_news_it_chose(services) -> None:
    SubscriberFactory(name="maintenance only", subscription__kinds=["maintenance"])
    SubscriberFactory(name="incidents only", subscription__kinds=["incidents"])
    SubscriberFactory(name="post-mortems only", subscription__kinds=["postmortems"])
    incident = open_incident()

    assert email_audience(incident) == {"incidents only"}
    assert email_audience(incident, kind="postmortems") == {"post-mortems only"}
    window = schedule()
    assert names(selectors.audience_for(maintenance=window, channel="email")) == {
        "maintenance only"
    }


# --- tier and the severity policy ---------------------------------------------------------


def test_sms_reaches_only_people_of_enterprise_customers(services) -> None:
    enterprise = CustomerFactory(tier="enterprise")
    SubscriberFactory(name="enterprise", customer=enterprise, phone="+14155550101")
    SubscriberFactory(
        name="business", customer=CustomerFactory(tier="business"), phone="+14155550102"
    )
    SubscriberFactory(
        name="standard", customer=CustomerFactory(tier="standard"), phone="+14155550103"
    )
    SubscriberFactory(name="no customer", phone="+14155550104")
    SubscriberFactory(name="enterprise without phone", customer=enterprise)

    incident = open_incident(severity="P1")

    assert names(selectors.audience_for(incident=incident, channel="sms")) == {"enterprise"}
    assert len(email_audience(incident)) == 5


def test_no_sms_when_the_severity_policy_does_not_list_it(services) -> None:
    SubscriberFactory(
        name="enterprise", customer=CustomerFactory(tier="enterprise"), phone="+14155550101"
    )
    incident = open_incident(severity="P2")  # the default P2 policy has no SMS

    assert not selectors.audience_for(incident=incident, channel="sms").exists()
    assert email_audience(incident) == {"enterprise"}


def test_a_severity_whose_policy_sends_no_email_has_no_email_audience(services) -> None:
    SubscriberFactory(name="hooked", webhook_url="https://hooks.example.net/status")
    incident = open_incident(severity="P3")  # in-app and status page only

    assert email_audience(incident) == set()
    # Webhooks are not governed by the policy: who set one up gets every incident.
    assert names(selectors.audience_for(incident=incident, channel="webhook")) == {"hooked"}


def test_maintenance_is_never_sent_by_sms(services) -> None:
    SubscriberFactory(
        name="enterprise", customer=CustomerFactory(tier="enterprise"), phone="+14155550101"
    )
    window = schedule()
    assert not selectors.audience_for(maintenance=window, channel="sms").exists()
    assert names(selectors.audience_for(maintenance=window, channel="email")) == {"enterprise"}


def test_maintenance_follows_its_services_and_regions(regions, services) -> None:
    SubscriberFactory(name="eu api", region=regions["eu"], subscription__services=[services["api"]])
    SubscriberFactory(name="us api", region=regions["us"], subscription__services=[services["api"]])
    SubscriberFactory(
        name="eu payments", region=regions["eu"], subscription__services=[services["payments"]]
    )
    window = schedule(services=("api",), regions=("eu",))
    assert names(selectors.audience_for(maintenance=window, channel="email")) == {"eu api"}


# --- consent: confirmation, unsubscribes, suppressions, channel choices -------------------


def test_unconfirmed_unsubscribed_and_inactive_customers_hear_nothing(services) -> None:
    SubscriberFactory(name="confirmed")
    SubscriberFactory(name="pending", unconfirmed=True)
    leaving = SubscriberFactory(name="unsubscribed")
    subscriber_unsubscribe(subscriber=leaving, actor="pytest")
    SubscriberFactory(name="churned", customer=CustomerFactory(active=False))

    assert email_audience(open_incident()) == {"confirmed"}


def test_a_suppressed_address_is_never_sent_to_on_that_channel(services) -> None:
    enterprise = CustomerFactory(tier="enterprise")
    SubscriberFactory(
        name="bounced", email="bounce@example.com", phone="+14155550101", customer=enterprise
    )
    SubscriberFactory(name="fine", email="fine@example.com", customer=enterprise)
    suppression_add(channel="email", address="Bounce@Example.com", reason="bounced", actor="pytest")
    incident = open_incident()

    assert email_audience(incident) == {"fine"}
    # The suppression is of the e-mail address: the phone still gets the SMS.
    assert names(selectors.audience_for(incident=incident, channel="sms")) == {"bounced"}


def test_a_subscriber_who_refused_a_channel_or_cannot_be_reached_on_it_is_left_out(
    services,
) -> None:
    enterprise = CustomerFactory(tier="enterprise")
    SubscriberFactory(
        name="sms only", customer=enterprise, phone="+14155550101", subscription__channels=["sms"]
    )
    SubscriberFactory(
        name="email only",
        customer=enterprise,
        phone="+14155550102",
        subscription__channels=["email"],
    )
    SubscriberFactory(name="no phone", customer=enterprise)
    SubscriberFactory(name="phone only", email="", customer=enterprise, phone="+14155550103")
    incident = open_incident()

    assert email_audience(incident) == {"email only", "no phone"}
    assert names(selectors.audience_for(incident=incident, channel="sms")) == {
        "sms only",
        "phone only",
    }


# --- which incidents speak to customers at all --------------------------------------------


def test_nothing_goes_out_before_customer_impact_is_confirmed(services) -> None:
    SubscriberFactory(name="everything")
    incident = open_incident(customer_impact_confirmed=False)
    assert email_audience(incident) == set()

    incident = incidents.incident_confirm_impact(incident=incident, actor="pytest")
    assert email_audience(incident) == {"everything"}


def test_a_child_incident_has_no_audience_of_its_own(services) -> None:
    SubscriberFactory(name="everything")
    parent = open_incident()
    child = incidents.incident_attach_child(child=open_incident(), parent=parent, actor="pytest")
    assert email_audience(child) == set()
    assert email_audience(parent) == {"everything"}


def test_a_parent_speaks_for_the_services_and_regions_of_its_children(regions, services) -> None:
    """Cascading: someone affected only through a child hears through the parent's thread,
    once."""
    SubscriberFactory(
        name="payments in us",
        region=regions["us"],
        subscription__services=[services["payments"]],
    )
    SubscriberFactory(
        name="api in eu", region=regions["eu"], subscription__services=[services["api"]]
    )
    SubscriberFactory(
        name="dashboard in eu",
        region=regions["eu"],
        subscription__services=[services["dashboard"]],
    )
    parent = open_incident(services=("api",), regions=["eu"])
    child = open_incident(services=("payments",), regions=["us"])
    assert email_audience(parent) == {"api in eu"}

    incidents.incident_attach_child(child=child, parent=parent, actor="pytest")

    assert email_audience(parent) == {"api in eu", "payments in us"}
    ids = list(selectors.audience_for(incident=parent, channel="email").values_list("pk"))
    assert len(ids) == len(set(ids)) == 2


def test_broadcast_channels_have_no_per_subscriber_audience(services) -> None:
    SubscriberFactory(name="everything")
    incident = open_incident()
    for channel in ("in_app", "status_page", "social"):
        assert not selectors.audience_for(incident=incident, channel=channel).exists()
    with pytest.raises(ValueError, match="Unknown channel 'pigeon'"):
        selectors.audience_for(incident=incident, channel="pigeon")


def test_a_segment_narrows_the_audience(regions, services) -> None:
    enterprise_eu = CustomerFactory(tier="enterprise", region=regions["eu"])
    SubscriberFactory(name="enterprise eu", customer=enterprise_eu)
    SubscriberFactory(name="standard eu", customer=CustomerFactory(region=regions["eu"]))
    segment = SegmentFactory(tiers=["enterprise"])

    assert email_audience(open_incident(regions=["eu"]), segment=segment) == {"enterprise eu"}


# --- one query, streamed ------------------------------------------------------------------


def test_the_audience_is_one_query_whatever_its_size_and_streams_in_chunks(
    regions, services
) -> None:
    enterprise = CustomerFactory(tier="enterprise", region=regions["eu"])
    for n in range(30):
        SubscriberFactory(
            customer=enterprise if n % 2 else None,
            phone=f"+1415555{n:04d}",
            subscription__services=[services["api"]] if n % 3 else None,
        )
    incident = open_incident(regions=["eu"])
    qs = selectors.audience_for(incident=incident, channel="sms")

    with CaptureQueriesContext(connection) as captured:
        streamed = list(selectors.audience_ids_iter(qs, chunk_size=4))
        counted = qs.count()
    assert len(captured) == 2  # the stream and the count: one query each

    expected = sorted(s.pk for s in Subscriber.objects.filter(customer=enterprise, phone__gt=""))
    assert streamed == expected
    assert counted == 15
