"""Approved SLA credits as Tasks on the customer's Salesforce account, when the tenant has a
Salesforce connection (the one the CRM sync uses) and the customer a Salesforce account id.

Each credit is pushed on its own, one at a time (a per-credit advisory lock: the task, its
retries and the sweep may overlap), and its push state is kept on it:

- `salesforce_task_id` and `salesforce_pushed_amount`: the Task and the amount it says. A
  credit whose amount changed since (a pre-approved credit grows with an extended outage)
  is pushed again by updating its Task in place (PATCH), so the account shows one Task per
  credit with what is owed now, never two to add up; a Task deleted in Salesforce meanwhile
  is created again.
- `salesforce_error` and `salesforce_refused`: Salesforce refusing one Task (400: an account
  id it does not know, a validation rule) is recorded on that credit and the others go on.
  A refused credit is not tried again until its amount changes or staff push it again.
- `salesforce_attempted_at`: a failure that is not the credit's own (Salesforce down, a 5xx,
  a 429, a timeout; credentials or permissions refused) is recorded on the credits not yet
  pushed. A transient one is raised, for the task to retry with backoff; either way the
  per-tenant sweep (`credits_salesforce_claim_due`) queues them again once per interval, so
  an outage is caught up later.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from apps.core.audit import audit_record
from apps.core.exceptions import IntegrationError, PermanentError, TransientError
from apps.core.tenancy import tenant_session_lock
from apps.integrations.outbound.salesforce.client import (
    FAILURES,
    SalesforceClient,
    _describe,
    _translate,
)
from apps.postmortems.choices import CreditState
from apps.postmortems.models import SlaCredit
from apps.subscribers.models import CrmConnection
from apps.subscribers.models.crm import CrmProvider
from apps.subscribers.services.crm import crm_stored_credentials

logger = logging.getLogger(__name__)
ACTOR = "Clarion"
# How long the sweep leaves a credit it queued, or that failed, before queuing it again.
SWEEP_MINUTES_DEFAULT = 15.0


class TaskRefused(PermanentError):
    """Salesforce refused this one Task (a 400): the credit's data, not the connection."""


class CreditTaskClient(SalesforceClient):
    """The Salesforce client, able to create and update a Task (the sync itself only reads)."""

    def _write(self, path: str, method: str, fields: dict[str, Any]) -> Any:
        try:
            return self._sf.restful(
                path, method=method, data=json.dumps(fields), timeout=self.timeout
            )
        except SalesforceMalformedRequest as exc:
            raise TaskRefused(f"Salesforce refused the Task: {_describe(exc.content)}") from exc

    def task_create(self, fields: dict[str, Any]) -> str:
        try:
            result = self._write("sobjects/Task/", "POST", fields)
        except FAILURES as exc:
            raise _translate(exc) from exc
        if not isinstance(result, dict) or not result.get("id"):
            raise TransientError(f"Salesforce did not return the new Task's id: {result!r:.200}")
        return str(result["id"])

    def task_update(self, task_id: str, fields: dict[str, Any]) -> bool:
        """Update the Task; False when it no longer exists (deleted in Salesforce)."""
        try:
            self._write(f"sobjects/Task/{task_id}", "PATCH", fields)
        except SalesforceResourceNotFound:
            return False
        except FAILURES as exc:
            raise _translate(exc) from exc
        return True


def _connection() -> CrmConnection | None:
    return CrmConnection.objects.filter(provider=CrmProvider.SALESFORCE, enabled=True).first()


def _client(connection: CrmConnection) -> CreditTaskClient:
    credentials = crm_stored_credentials(connection)
    return CreditTaskClient(
        instance_url=connection.base_url,
        access_token=credentials.get("access_token", ""),
        username=credentials.get("username", ""),
        password=credentials.get("password", ""),
        security_token=credentials.get("security_token", ""),
        domain=credentials.get("domain", "login"),
        timeout=float(getattr(settings, "CLARION_CRM_TIMEOUT_SECONDS", 30.0)),
    )


def task_fields(credit: SlaCredit, *, previous: Decimal | None = None) -> dict[str, Any]:
    """The Task as Salesforce stores it: on the account, completed, saying what is owed (and,
    when it is updated, what it said before)."""
    revised = (
        f" Revised: the Task said {credit.currency} {previous} before."
        if previous is not None and previous != credit.amount
        else ""
    )
    return {
        "WhatId": credit.customer.salesforce_account_id,
        "Subject": f"SLA credit {credit.currency} {credit.amount} ({credit.month:%B %Y})",
        "Description": (
            f"Clarion approved an SLA credit of {credit.currency} {credit.amount} for "
            f"{credit.customer.name}: {credit.credit_pct}% of the monthly fee, month-to-date "
            f"uptime {credit.uptime_pct}% in {credit.month:%B %Y}, after {credit.cause}."
            f"{revised}"
        ),
        "Status": "Completed",
        "Priority": "Normal",
        "ActivityDate": credit.month.isoformat(),
    }


def credits_to_push() -> QuerySet[SlaCredit]:
    """Approved (or applied) credits of customers with a Salesforce account that Salesforce
    does not show as they are: never pushed, or pushed with another amount. Not those it
    refused."""
    return (
        SlaCredit.objects.filter(
            state__in=(CreditState.APPROVED, CreditState.APPLIED), salesforce_refused=False
        )
        .exclude(customer__salesforce_account_id="")
        .filter(
            Q(salesforce_task_id="")
            | Q(salesforce_pushed_amount__isnull=True)
            | Q(salesforce_pushed_amount__lt=F("amount"))
            | Q(salesforce_pushed_amount__gt=F("amount"))
        )
    )


def _credit_lock(credit_id: int) -> AbstractContextManager[bool]:
    """One push of a credit at a time (a session-level advisory lock: what a push records
    commits as it happens), so that two overlapping tasks never create two Tasks."""
    return tenant_session_lock(f"sla_credit_push:{credit_id}", wait=True)


def _push_one(client: CreditTaskClient, credit_id: int) -> str:
    """Create or update one credit's Task: "created", "updated", or "" (nothing to do any
    more: pushed meanwhile, refused, waived). A refusal is recorded on the credit, and any
    failure raised."""
    with _credit_lock(credit_id):
        credit = (
            credits_to_push()
            .filter(pk=credit_id)
            .select_related("customer", "incident", "maintenance")
            .first()
        )
        if credit is None:
            return ""
        rows = SlaCredit.objects.filter(pk=credit.pk)
        rows.update(salesforce_attempted_at=timezone.now())
        previous = credit.salesforce_pushed_amount
        fields = task_fields(credit, previous=previous)
        try:
            if credit.salesforce_task_id and client.task_update(credit.salesforce_task_id, fields):
                task_id, action = credit.salesforce_task_id, "updated"
            else:
                task_id, action = client.task_create(fields)[:18], "created"
        except TaskRefused as exc:
            with transaction.atomic():
                rows.update(salesforce_error=str(exc), salesforce_refused=True)
                audit_record(
                    actor=ACTOR,
                    action="sla_credit.salesforce_refused",
                    obj=credit,
                    details={"reason": str(exc), "amount": str(credit.amount)},
                )
            logger.warning("SLA credit %s: %s", credit.pk, exc)
            raise
        with transaction.atomic():
            rows.update(
                salesforce_task_id=task_id,
                salesforce_pushed_amount=credit.amount,
                salesforce_error="",
            )
            audit_record(
                actor=ACTOR,
                action="sla_credit.pushed_to_salesforce",
                obj=credit,
                details={
                    "task_id": task_id,
                    "task": action,
                    "amount": str(credit.amount),
                    "previous_amount": None if previous is None else str(previous),
                },
            )
        return action


def _record_failure(credit_ids: Sequence[int], exc: IntegrationError) -> None:
    """The reason on the credits this push did not get to (they stay to be pushed)."""
    credits_to_push().filter(pk__in=credit_ids).update(
        salesforce_error=str(exc)[:2000], salesforce_attempted_at=timezone.now()
    )


def credits_push_salesforce(*, credit_ids: Sequence[int]) -> dict[str, int]:
    """Push each of these credits that Salesforce does not show as it is (see
    `credits_to_push`), on its own: a Task refused is recorded on its credit and the others
    go on.

    A transient failure (Salesforce down, 5xx, 429, a timeout) is recorded on the credits
    left and raised, for the task to retry them. A permanent one that is not the credit's
    own (credentials, permissions, the instance URL) is recorded on them and logged: no
    retry will fix it until someone does, and the periodic sweep tries again meanwhile."""
    connection = _connection()
    if connection is None:
        return {"skipped": len(credit_ids)}
    ids = list(
        credits_to_push().filter(pk__in=credit_ids).order_by("pk").values_list("pk", flat=True)
    )
    if not ids:
        return {"pushed": 0}
    pushed = refused = 0
    try:
        client = _client(connection)
    except (TransientError, PermanentError) as exc:
        _record_failure(ids, exc)
        if isinstance(exc, TransientError):
            raise
        logger.error("SLA credits %s not pushed to Salesforce: %s", ids, exc)
        return {"pushed": 0, "failed": len(ids)}
    try:
        for position, credit_id in enumerate(ids):
            try:
                pushed += bool(_push_one(client, credit_id))
            except TaskRefused:
                refused += 1
            except (TransientError, PermanentError) as exc:
                _record_failure(ids[position:], exc)
                if isinstance(exc, TransientError):
                    raise
                logger.error("SLA credits %s not pushed to Salesforce: %s", ids[position:], exc)
                return {"pushed": pushed, "refused": refused, "failed": len(ids) - position}
    finally:
        client.close()
    return {"pushed": pushed, "refused": refused} if refused else {"pushed": pushed}


def sweep_interval() -> timedelta:
    minutes = float(getattr(settings, "CLARION_SLA_CREDIT_PUSH_MINUTES", SWEEP_MINUTES_DEFAULT))
    return timedelta(minutes=minutes)


def credits_salesforce_claim_due(*, now: datetime | None = None) -> list[int]:
    """For the per-tenant sweep: the credits to push again (see `credits_to_push`) that no
    push tried, and the sweep did not queue, within the interval; stamped as queued now, so
    that each is queued at most once per interval however often the sweep runs. Nothing
    without a Salesforce connection."""
    if _connection() is None:
        return []
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            credits_to_push()
            .filter(
                Q(salesforce_attempted_at__isnull=True)
                | Q(salesforce_attempted_at__lte=now - sweep_interval())
            )
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        SlaCredit.objects.filter(pk__in=ids).update(salesforce_attempted_at=now)
    return ids
