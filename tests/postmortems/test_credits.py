"""SLA credits: weighted, merged downtime per customer, region and month."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.incidents.models import Incident, IncidentUpdate, MaintenanceWindow
from apps.incidents.services import (
    incident_attach_child,
    incident_resolve,
    maintenance_complete,
    maintenance_extend,
)
from apps.postmortems.models import CustomerSlaPolicy, SlaCredit, SlaPolicy
from apps.postmortems.services import (
    credit_set_state,
    credits_approve,
    credits_compute,
    overrun_credits_compute,
)
from apps.postmortems.sla import weighted_downtime
from tests.factories import ALL_CLEAR, CustomerFactory, SubscriberFactory
from tests.postmortems.conftest import past_incident

ACTOR = "pytest"
JUNE = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a 30-day month: 43,200 minutes
MINUTES_IN_JUNE = Decimal(30 * 24 * 60)


def at(minutes: float, base: datetime = JUNE) -> datetime:
    return base + timedelta(minutes=minutes)


def uptime_after(down_minutes: float, month_minutes: Decimal = MINUTES_IN_JUNE) -> Decimal:
    share = Decimal(str(down_minutes)) / month_minutes
    return (100 * (1 - share)).quantize(Decimal("0.0001"))


@pytest.fixture
def eu_customer(catalog, policy):
    return CustomerFactory(
        name="Acme EU",
        tier="enterprise",
        region=catalog["eu"],
        monthly_fee=Decimal("1000"),
        currency="EUR",
    )


def credit_of(customer, incident) -> SlaCredit:
    return SlaCredit.objects.get(customer=customer, incident=incident)


def test_an_hour_of_major_outage_costs_ten_percent_of_the_fee(eu_customer) -> None:
    incident = past_incident(start=JUNE, end=at(60), services={"payments": "major_outage"})
    [credit] = credits_compute(incident=incident, actor=ACTOR)
    assert credit.customer == eu_customer and credit.month == date(2026, 6, 1)
    assert credit.downtime_minutes == Decimal("60.00")
    assert credit.uptime_pct == uptime_after(60) == Decimal("99.8611")
    assert (credit.credit_pct, credit.amount, credit.currency) == (
        Decimal("10"),
        Decimal("100.00"),
        "EUR",
    )
    assert credit.state == "proposed"


def test_two_incidents_at_once_are_not_counted_twice(catalog, eu_customer) -> None:
    first = past_incident(start=JUNE, end=at(60), services={"payments": "major_outage"})
    second = past_incident(start=at(30), end=at(90), services={"api": "major_outage"})
    [credit] = credits_compute(incident=second, actor=ACTOR)
    # 90 minutes down in all (00-60 and 30-90 overlap by 30), not 120
    assert credit.downtime_minutes == Decimal("90.00")
    assert credit.uptime_pct == uptime_after(90)
    # the first brings nothing more: the month's credits add up to the schedule, 10% once
    assert credits_compute(incident=first, actor=ACTOR) == []
    assert sum(c.amount for c in SlaCredit.objects.all()) == Decimal("100.00")


def test_weights_count_partial_outage_half_and_degraded_not_at_all(eu_customer) -> None:
    incident = past_incident(
        start=JUNE,
        end=at(240),
        services={"payments": "degraded_performance"},
        changes=((at(60), {"payments": "partial_outage"}), (at(180), {"payments": "major_outage"})),
    )
    [credit] = credits_compute(incident=incident, actor=ACTOR)
    # 60 min degraded (0%) + 120 min partial (50%) + 60 min major (100%) = 120 min
    assert credit.downtime_minutes == Decimal("120.00")


def test_overlapping_statuses_count_at_the_heavier_weight() -> None:
    start = JUNE
    down = weighted_downtime(
        [
            (start, at(120), Decimal("0.5")),  # partial outage on one service
            (at(60), at(90), Decimal("1")),  # major outage on another, inside it
        ]
    )
    # 0-60 at 0.5, 60-90 at 1, 90-120 at 0.5 = 30 + 30 + 15 minutes
    assert down == timedelta(minutes=75)


def test_a_policy_with_other_weights_counts_differently(eu_customer) -> None:
    strict = SlaPolicy.objects.create(
        name="Strict",
        downtime_weights={"degraded_performance": 25, "partial_outage": 100},
    )
    CustomerSlaPolicy.objects.create(customer=eu_customer, policy=strict)
    incident = past_incident(start=JUNE, end=at(400), services={"payments": "degraded_performance"})
    [credit] = credits_compute(incident=incident, actor=ACTOR)
    assert credit.downtime_minutes == Decimal("100.00")  # 25% of 400 min
    assert credit.policy == strict


def test_only_customers_in_the_affected_regions_are_credited(catalog, policy) -> None:
    eu = CustomerFactory(tier="business", region=catalog["eu"], monthly_fee=Decimal("500"))
    us = CustomerFactory(tier="business", region=catalog["us"], monthly_fee=Decimal("500"))
    unknown = CustomerFactory(tier="business", region=None, monthly_fee=Decimal("500"))
    incident = past_incident(
        start=JUNE, end=at(60), services={"payments": "major_outage"}, regions=("eu",)
    )
    credits_compute(incident=incident, actor=ACTOR)
    credited = set(SlaCredit.objects.values_list("customer", flat=True))
    assert eu.pk in credited and unknown.pk in credited  # unknown region heard about it too
    assert us.pk not in credited


def test_a_customer_counts_only_the_services_it_uses(catalog, policy) -> None:
    api_only = CustomerFactory(tier="enterprise", monthly_fee=Decimal("800"))
    SubscriberFactory(customer=api_only, subscription__services=[catalog["api"]])
    everything = CustomerFactory(tier="enterprise", monthly_fee=Decimal("800"))
    SubscriberFactory(customer=everything)  # all services
    no_subscribers = CustomerFactory(tier="enterprise", monthly_fee=Decimal("800"))
    incident = past_incident(start=JUNE, end=at(60), services={"payments": "major_outage"})
    credits_compute(incident=incident, actor=ACTOR)
    credited = set(SlaCredit.objects.values_list("customer", flat=True))
    # a customer without a choice of services uses them all
    assert credited == {everything.pk, no_subscribers.pk}


def test_customers_without_an_sla_or_a_fee_get_no_credit(catalog, policy) -> None:
    CustomerFactory(tier="standard", monthly_fee=Decimal("100"))  # the tier has no policy
    CustomerFactory(tier="enterprise", monthly_fee=None)
    incident = past_incident(start=JUNE, end=at(600), services={"payments": "major_outage"})
    assert credits_compute(incident=incident, actor=ACTOR) == []


def _maintenance(*, start: datetime, planned_minutes: int, actual_minutes: int, catalog):
    window = MaintenanceWindow.objects.create(
        title="Database upgrade",
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=planned_minutes),
        actual_start=start,
        actual_end=start + timedelta(minutes=actual_minutes),
        status="completed",
        expected_impact="unavailable",
    )
    window.services.set([catalog["payments"]])
    return window


def test_maintenance_counts_only_its_overrun_by_default(catalog, eu_customer) -> None:
    _maintenance(start=at(-3000), planned_minutes=60, actual_minutes=150, catalog=catalog)
    incident = past_incident(start=JUNE, end=at(30), services={"payments": "major_outage"})
    [credit] = credits_compute(incident=incident, actor=ACTOR)
    assert credit.downtime_minutes == Decimal("120.00")  # 90 min overrun + 30 min incident


def test_a_policy_may_count_all_maintenance_or_none(catalog, eu_customer, policy) -> None:
    _maintenance(start=at(-3000), planned_minutes=60, actual_minutes=150, catalog=catalog)
    incident = past_incident(start=JUNE, end=at(30), services={"payments": "major_outage"})
    policy.maintenance = "all"
    policy.save()
    assert credits_compute(incident=incident, actor=ACTOR)[0].downtime_minutes == 180
    SlaCredit.objects.all().delete()
    policy.maintenance = "none"
    policy.save()
    assert credits_compute(incident=incident, actor=ACTOR) == []  # 30 min: above 99.9%


def test_an_outage_across_a_month_boundary_is_split_between_the_months(eu_customer) -> None:
    start = datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    incident = past_incident(
        start=start, end=start + timedelta(hours=2), services={"payments": "major_outage"}
    )
    credits = credits_compute(incident=incident, actor=ACTOR)
    by_month = {c.month: c for c in credits}
    assert set(by_month) == {date(2026, 1, 1), date(2026, 2, 1)}
    assert by_month[date(2026, 1, 1)].downtime_minutes == Decimal("60.00")
    assert by_month[date(2026, 1, 1)].uptime_pct == uptime_after(60, Decimal(31 * 24 * 60))
    assert by_month[date(2026, 2, 1)].uptime_pct == uptime_after(60, Decimal(28 * 24 * 60))


def test_a_second_incident_adds_only_what_the_deeper_tier_owes(eu_customer) -> None:
    first = past_incident(start=JUNE, end=at(60), services={"payments": "major_outage"})
    second = past_incident(start=at(1000), end=at(1400), services={"payments": "major_outage"})
    credits_compute(incident=first, actor=ACTOR)
    [credit] = credits_compute(incident=second, actor=ACTOR)
    # 460 min: 98.94% is below 99% -> 25% (250) owed, 100 given already
    assert credit.credit_pct == Decimal("25") and credit.amount == Decimal("150.00")


def test_each_customer_is_credited_in_its_own_currency(catalog, policy) -> None:
    usd = CustomerFactory(tier="enterprise", monthly_fee=Decimal("2500"), currency="USD")
    gbp = CustomerFactory(tier="enterprise", monthly_fee=Decimal("300"), currency="GBP")
    incident = past_incident(start=JUNE, end=at(60), services={"payments": "major_outage"})
    credits_compute(incident=incident, actor=ACTOR)
    assert credit_of(usd, incident).amount == Decimal("250.00")
    assert credit_of(usd, incident).currency == "USD"
    assert (credit_of(gbp, incident).amount, credit_of(gbp, incident).currency) == (
        Decimal("30.00"),
        "GBP",
    )


def test_computing_again_changes_nothing_a_person_decided(eu_customer) -> None:
    incident = past_incident(start=JUNE, end=at(60), services={"payments": "major_outage"})
    [credit] = credits_compute(incident=incident, actor=ACTOR)
    assert credits_approve(credits=[credit], actor=ACTOR) == 1
    assert credits_approve(credits=[credit], actor=ACTOR) == 0  # already approved
    credits_compute(incident=incident, actor=ACTOR)
    assert SlaCredit.objects.count() == 1
    credit.refresh_from_db()
    assert credit.state == "approved" and credit.approved_by_label == ACTOR
    credit = credit_set_state(credit=credit, state="applied", actor=ACTOR)
    assert credit.state == "applied" and credit.applied_at is not None


def test_a_policy_with_a_muddled_schedule_is_refused_with_the_reason() -> None:
    policy = SlaPolicy(
        name="Bad",
        credit_tiers=[{"below": "99", "credit_pct": "25"}, {"below": "99.9", "credit_pct": "10"}],
        downtime_weights={"major_outage": 150, "meltdown": 10},
    )
    with pytest.raises(ValidationError) as caught:
        policy.clean()
    errors = caught.value.message_dict
    assert "Tier 2: list tiers from the highest threshold down" in errors["credit_tiers"][0]
    assert any("Unknown statuses: meltdown" in e for e in errors["downtime_weights"])
    assert any("major_outage must be a percentage" in e for e in errors["downtime_weights"])


def _cascade(*, end: datetime, child_confirmed: bool = True) -> tuple[Incident, Incident]:
    """Payments down everywhere (the parent) and, attached to it, the API down in Europe
    (the child, which customers hear about through the parent), both from JUNE to `end`."""
    parent = past_incident(start=JUNE, end=None, services={"payments": "major_outage"})
    child = past_incident(start=JUNE, end=None, services={"api": "major_outage"}, regions=("eu",))
    if not child_confirmed:  # an alert opened internally, then attached
        Incident.objects.filter(pk=child.pk).update(customer_impact_confirmed=False)
    incident_attach_child(child=child, parent=parent, actor=ACTOR)
    incident_resolve(incident=parent, body="Back to normal.", **ALL_CLEAR, actor=ACTOR)
    IncidentUpdate.objects.filter(incident__in=[parent, child], status="resolved").update(
        display_at=end, created_at=end
    )
    Incident.objects.filter(pk__in=[parent.pk, child.pk]).update(resolved_at=end)
    parent.refresh_from_db()
    child.refresh_from_db()
    return parent, child


@pytest.mark.parametrize("child_confirmed", [True, False])
def test_customers_hit_only_through_a_child_incident_are_credited_once(
    catalog, policy, child_confirmed
) -> None:
    api_eu = CustomerFactory(tier="enterprise", region=catalog["eu"], monthly_fee=Decimal("800"))
    SubscriberFactory(customer=api_eu, subscription__services=[catalog["api"]])
    api_us = CustomerFactory(tier="enterprise", region=catalog["us"], monthly_fee=Decimal("800"))
    SubscriberFactory(customer=api_us, subscription__services=[catalog["api"]])
    both = CustomerFactory(tier="enterprise", region=catalog["eu"], monthly_fee=Decimal("800"))
    SubscriberFactory(customer=both)  # every service: down through parent and child at once
    parent, _ = _cascade(end=at(60), child_confirmed=child_confirmed)

    credits = {c.customer_id: c for c in credits_compute(incident=parent, actor=ACTOR)}

    # the API outage was in Europe only: the US customer of the API lost nothing
    assert set(credits) == {api_eu.pk, both.pk}
    only_child = credits[api_eu.pk]
    assert only_child.incident == parent and only_child.downtime_minutes == Decimal("60.00")
    assert (only_child.credit_pct, only_child.amount) == (Decimal("10"), Decimal("80.00"))
    # the same hour through two incidents counts once, in one credit
    assert credits[both.pk].downtime_minutes == Decimal("60.00")
    assert credits[both.pk].amount == Decimal("80.00")
    credits_compute(incident=parent, actor=ACTOR)  # computing again adds nothing
    assert SlaCredit.objects.filter(customer=both).count() == 1
    assert SlaCredit.objects.filter(customer=api_eu).count() == 1


def test_a_maintenance_overrun_past_two_hours_proposes_credits(catalog, eu_customer) -> None:
    short = _maintenance(start=at(-3000), planned_minutes=60, actual_minutes=150, catalog=catalog)
    assert overrun_credits_compute(window=short, actor=ACTOR) == []  # 90 min over: no offer

    window = _maintenance(start=JUNE, planned_minutes=60, actual_minutes=210, catalog=catalog)
    [credit] = overrun_credits_compute(window=window, actor=ACTOR)
    assert (credit.maintenance, credit.incident, credit.customer) == (window, None, eu_customer)
    # both overruns this month count (150 + 90 min), the planned hours do not
    assert credit.downtime_minutes == Decimal("240.00")
    assert (credit.credit_pct, credit.amount, credit.state) == (
        Decimal("10"),
        Decimal("100.00"),
        "proposed",
    )
    overrun_credits_compute(window=window, actor=ACTOR)  # the event again: nothing new
    assert SlaCredit.objects.get(maintenance=window).amount == Decimal("100.00")
    assert credits_approve(credits=[credit], actor=ACTOR) == 1
    # an incident later that month adds only what the deeper tier owes beyond it
    incident = past_incident(start=at(1000), end=at(1300), services={"payments": "major_outage"})
    [more] = credits_compute(incident=incident, actor=ACTOR)
    assert (more.credit_pct, more.amount) == (Decimal("25"), Decimal("150.00"))


def test_a_window_the_cadence_extended_is_measured_against_its_planned_end(
    catalog, eu_customer, django_capture_on_commit_callbacks
) -> None:
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        title="Database upgrade",
        scheduled_start=now - timedelta(hours=5),
        scheduled_end=now - timedelta(hours=4),
        actual_start=now - timedelta(hours=5),
        planned_end=now - timedelta(hours=4),  # what maintenance_start records
        status="in_progress",
        expected_impact="unavailable",
    )
    window.services.set([catalog["payments"]])
    # what the cadence tick does while it runs long: customers are told a later end
    maintenance_extend(window=window, new_end=now + timedelta(minutes=15), actor=ACTOR)
    with django_capture_on_commit_callbacks(execute=True):
        maintenance_complete(window=window, actor=ACTOR)

    credits = SlaCredit.objects.filter(maintenance=window)
    assert credits.filter(customer=eu_customer).exists()
    assert {c.state for c in credits} == {"proposed"} and all(c.amount > 0 for c in credits)
    computed = AuditEvent.objects.get(action="sla_credits.computed", object_id=str(window.pk))
    assert computed.details["overrun_minutes"] >= 4 * 60
