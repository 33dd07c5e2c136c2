"""SLA credit use-cases: compute on resolve (or pre-approve during an extended outage) and
when a maintenance window overran by more than 2 h, approve, apply, waive, push to
Salesforce."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from apps.core.audit import Actor, actor_label, audit_record
from apps.core.exceptions import Conflict
from apps.incidents.choices import ExpectedImpact, MaintenanceStatus
from apps.incidents.models import Incident, MaintenanceWindow
from apps.postmortems import sla
from apps.postmortems.choices import CreditState
from apps.postmortems.models import SlaCredit, SlaPolicy
from apps.subscribers.models import Customer

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")
SYSTEM = "Clarion"
PUSH_CREDITS = "postmortems.push_credits"
# DESIGN (maintenance overrun): a credit is offered once the overrun passes this.
OVERRUN_CREDIT_AFTER = timedelta(hours=2)


def _queue_push(credit_ids: list[int]) -> None:
    """After commit, push approved credits to the CRM (a task: the CRM may be slow)."""
    if credit_ids:
        transaction.on_commit(
            lambda: current_app.send_task(PUSH_CREDITS, (credit_ids,), queue="integrations")
        )


def _affected_customers(regions: Sequence[frozenset[int]]) -> list[Customer]:
    """Active customers in the regions of what caused the downtime (one set per incident
    or window; all customers when one of them names none; customers of unknown region
    too) - narrowed further by the services they use."""
    customers = Customer.objects.filter(active=True)
    if regions and all(regions):
        customers = customers.filter(Q(region__in=set().union(*regions)) | Q(region__isnull=True))
    return list(customers.order_by("pk"))


def _credited_elsewhere(customer: Customer, cause: dict[str, Any], month: datetime) -> Decimal:
    total = (
        SlaCredit.objects.filter(customer=customer, month=month.date())
        .exclude(**cause)
        .exclude(state=CreditState.WAIVED)
        .aggregate(total=Sum("amount"))["total"]
    )
    return total or Decimal(0)


def _regions(incidents: Iterable[Incident]) -> list[frozenset[int]]:
    return [frozenset(r.pk for r in i.regions.all()) for i in incidents]


@transaction.atomic
def credits_compute(
    *, incident: Incident, now: datetime | None = None, pre_approve: bool = False, actor: Actor
) -> list[SlaCredit]:
    """Compute every affected customer's month-to-date uptime and the credit this incident
    adds, for each month the incident touched; create or refresh the `SlaCredit` rows.

    A parent incident speaks for its children (a cascading failure): their outages and
    regions are its own, so a customer hit only through a child is credited on the parent,
    and one hit through both once. The credit is what the customer's policy owes at that
    uptime minus what other incidents already credited that month (so the month's credits
    add up to the schedule, never more). A credit someone approved, applied or waived is
    not changed, except one pre-approved during an extended outage, which grows with the
    outage. `pre_approve` creates credits approved (extended outage: no one has to sign
    them off)."""
    now = now or timezone.now()
    thread = [incident, *incident.children.filter(false_alarm=False).prefetch_related("regions")]
    ids = {i.pk for i in thread}
    return _compute(
        cause={"incident": incident},
        audit_obj=incident,
        owns=lambda outage: outage.incident_id in ids,
        regions=_regions(thread),
        start=min(i.started_at for i in thread),
        until=incident.resolved_at or now,
        now=now,
        pre_approve=pre_approve,
        actor=actor,
        details={"pre_approved": pre_approve},
    )


@transaction.atomic
def overrun_credits_compute(
    *, window: MaintenanceWindow, now: datetime | None = None, actor: Actor
) -> list[SlaCredit]:
    """Offer credits for a completed maintenance window that ended more than 2 h after its
    planned end (the end customers were told before it began; extensions while it ran are
    the overrun): proposed, for staff to approve, computed as for an incident from the
    window's services and regions and each customer's policy (which says how much of
    maintenance counts). Nothing when the overrun is shorter or the window had no impact;
    computing again changes nothing a person decided."""
    now = now or timezone.now()
    if (
        window.status != MaintenanceStatus.COMPLETED
        or window.actual_start is None
        or window.actual_end is None
        or window.expected_impact == ExpectedImpact.NONE
    ):
        return []
    overrun = window.actual_end - sla.planned_end(window)
    if overrun <= OVERRUN_CREDIT_AFTER:
        return []
    credits = _compute(
        cause={"maintenance": window},
        audit_obj=window,
        owns=lambda outage: outage.maintenance_id == window.pk,
        regions=[frozenset(window.regions.values_list("pk", flat=True))],
        start=window.actual_start,
        until=window.actual_end,
        now=now,
        pre_approve=False,
        actor=actor,
        details={"overrun_minutes": int(overrun.total_seconds() // 60)},
    )
    if credits:
        # No staff alert: the only staff-alert helper (apps.communications.staff) needs a
        # reminder kind of that app. The credits wait in the portal's credit list.
        logger.info(
            "maintenance %s overran by %s: %d credit(s) proposed", window.pk, overrun, len(credits)
        )
    return credits


def _compute(
    *,
    cause: dict[str, Any],
    audit_obj: Incident | MaintenanceWindow,
    owns: Callable[[sla.Outage], bool],
    regions: Sequence[frozenset[int]],
    start: datetime,
    until: datetime,
    now: datetime,
    pre_approve: bool,
    actor: Actor,
    details: dict[str, Any],
) -> list[SlaCredit]:
    """The credits `cause` (`{"incident": ...}` or `{"maintenance": ...}`) adds, per month
    from `start` to `until`, for the customers some outage it `owns` was downtime of."""
    customers = _affected_customers(regions)
    policies = sla.policies_for(customers)
    customers = [c for c in customers if c.pk in policies and c.monthly_fee]
    if not customers:
        return []
    scopes = sla.customer_scopes(customers)
    changed: list[SlaCredit] = []
    for month in sla.months_between(start, until):
        end = min(sla.next_month(month), until)
        outages = sla.outages_between(month, end, now=now)
        own = [o for o in outages if owns(o)]
        for customer in customers:
            scope, policy = scopes[customer.pk], policies[customer.pk]
            if not any(
                sla.counts(o, policy=policy, scope=scope, start=month, end=end) for o in own
            ):
                continue
            uptime = sla.month_uptime(
                policy=policy, scope=scope, outages=outages, month=month, until=until
            )
            pct = policy.credit_pct(uptime.uptime_pct)
            owed = (customer.monthly_fee or Decimal(0)) * pct / 100
            amount = (owed - _credited_elsewhere(customer, cause, month)).quantize(
                CENT, rounding=ROUND_HALF_UP
            )
            credit = _store(
                customer=customer,
                cause=cause,
                month=month,
                policy_uptime=(policy, uptime, pct),
                amount=amount,
                pre_approve=pre_approve,
                now=now,
            )
            if credit is not None:
                changed.append(credit)
    _queue_push([c.pk for c in changed if c.state == CreditState.APPROVED])
    if changed:
        audit_record(
            actor=actor,
            action="sla_credits.computed",
            obj=audit_obj,
            details={"credits": [c.pk for c in changed], **details},
        )
    return changed


def _store(
    *,
    customer: Customer,
    cause: dict[str, Any],
    month: datetime,
    policy_uptime: tuple[SlaPolicy, sla.Uptime, Decimal],
    amount: Decimal,
    pre_approve: bool,
    now: datetime,
) -> SlaCredit | None:
    policy, uptime, pct = policy_uptime
    existing = (
        SlaCredit.objects.select_for_update()
        .filter(customer=customer, month=month.date(), **cause)
        .first()
    )
    if existing is None and amount <= 0:
        return None
    amount = max(amount, Decimal(0))
    values: dict[str, object] = {
        "policy": policy,
        "uptime_pct": uptime.uptime_pct,
        "downtime_minutes": Decimal(uptime.downtime.total_seconds() / 60).quantize(CENT),
        "credit_pct": pct,
        "amount": amount,
        "currency": customer.currency,
    }
    if existing is None:
        state = CreditState.APPROVED if pre_approve else CreditState.PROPOSED
        return SlaCredit.objects.create(
            customer=customer,
            month=month.date(),
            state=state,
            pre_approved=pre_approve,
            approved_at=now if pre_approve else None,
            approved_by_label=f"{SYSTEM} (extended outage)" if pre_approve else "",
            **cause,
            **values,
        )
    refreshable = existing.state == CreditState.PROPOSED or (
        existing.state == CreditState.APPROVED and existing.pre_approved
    )
    if not refreshable or existing.amount > amount:
        return None  # a person decided on it, or it would shrink: leave it as it is
    if existing.amount != amount:
        existing.salesforce_refused = False  # another Task: Salesforce may well take it
    for name, value in values.items():
        setattr(existing, name, value)
    if pre_approve and existing.state == CreditState.PROPOSED:
        existing.state = CreditState.APPROVED
        existing.pre_approved = True
        existing.approved_at = now
        existing.approved_by_label = f"{SYSTEM} (extended outage)"
    existing.save()
    return existing


@transaction.atomic
def credits_approve(*, credits: Iterable[SlaCredit], actor: Actor) -> int:
    """Approve proposed credits (the admin's bulk action); returns how many changed.
    Approved credits are pushed to Salesforce on commit when the tenant has it."""
    ids = [c.pk for c in credits]
    rows = list(
        SlaCredit.objects.select_for_update()
        .filter(pk__in=ids, state=CreditState.PROPOSED)
        .order_by("pk")
    )
    now = timezone.now()
    for credit in rows:
        credit.state = CreditState.APPROVED
        credit.approved_at = now
        credit.approved_by_label = actor_label(actor)[:200]
        credit.save(update_fields=["state", "approved_at", "approved_by_label", "updated_at"])
        audit_record(actor=actor, action="sla_credit.approved", obj=credit)
    _queue_push([c.pk for c in rows])
    return len(rows)


@transaction.atomic
def credit_set_state(*, credit: SlaCredit, state: str, actor: Actor) -> SlaCredit:
    """Mark a credit applied (it is on the invoice) or waived (it will not be given)."""
    credit = SlaCredit.objects.select_for_update().get(pk=credit.pk)
    if credit.state == state:
        return credit
    allowed: dict[str, tuple[str, ...]] = {
        CreditState.APPLIED: (CreditState.APPROVED,),
        CreditState.WAIVED: (CreditState.PROPOSED, CreditState.APPROVED),
    }
    if state not in allowed:
        raise Conflict(f"Use approve for a credit; it cannot be set to {state}.")
    if credit.state not in allowed[state]:
        raise Conflict(
            f"Credit #{credit.pk} is {credit.state}; only a "
            f"{' or '.join(allowed[state])} credit can become {state}.",
            code=f"credit_{credit.state}",
        )
    credit.state = state
    if state == CreditState.APPLIED:
        credit.applied_at = timezone.now()
    credit.save()
    audit_record(actor=actor, action=f"sla_credit.{state}", obj=credit)
    return credit


@transaction.atomic
def credits_push_again(*, credits: Iterable[SlaCredit], actor: Actor) -> int:
    """Push approved (or applied) credits to Salesforce again, those it refused included
    (once someone fixed what it refused, e.g. the customer's account id); returns how many
    were queued. Each push still changes nothing in Salesforce when it shows the credit as
    it is."""
    rows = list(
        SlaCredit.objects.select_for_update()
        .filter(
            pk__in=[c.pk for c in credits],
            state__in=(CreditState.APPROVED, CreditState.APPLIED),
        )
        .order_by("pk")
    )
    for credit in rows:
        if credit.salesforce_refused:
            credit.salesforce_refused = False
            credit.save(update_fields=["salesforce_refused", "updated_at"])
        audit_record(actor=actor, action="sla_credit.push_requested", obj=credit)
    _queue_push([c.pk for c in rows])
    return len(rows)
