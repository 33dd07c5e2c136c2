"""Approved SLA credits as Tasks on the customer's Salesforce account, when the tenant has a
Salesforce connection (the one the CRM sync uses) and the customer a Salesforce account id.

A credit is pushed once: the Task id is kept on the credit, and a credit that has one is not
pushed again (a redelivered task creates nothing).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.core.audit import audit_record
from apps.core.exceptions import PermanentError, TransientError
from apps.integrations.outbound.salesforce.client import (
    FAILURES,
    SalesforceClient,
    _translate,
)
from apps.postmortems.choices import CreditState
from apps.postmortems.models import SlaCredit
from apps.subscribers.models import CrmConnection
from apps.subscribers.models.crm import CrmProvider
from apps.subscribers.services.crm import crm_stored_credentials

logger = logging.getLogger(__name__)
ACTOR = "Clarion"


class CreditTaskClient(SalesforceClient):
    """The Salesforce client, able to create a Task (the sync itself only reads)."""

    def task_create(self, fields: dict[str, Any]) -> str:
        try:
            result = self._sf.restful(
                "sobjects/Task/", method="POST", data=json.dumps(fields), timeout=self.timeout
            )
        except FAILURES as exc:
            raise _translate(exc) from exc
        if not isinstance(result, dict) or not result.get("id"):
            raise TransientError(f"Salesforce did not return the new Task's id: {result!r:.200}")
        return str(result["id"])


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


def task_fields(credit: SlaCredit) -> dict[str, Any]:
    """The Task as Salesforce stores it: on the account, completed, saying what is owed."""
    return {
        "WhatId": credit.customer.salesforce_account_id,
        "Subject": f"SLA credit {credit.currency} {credit.amount} ({credit.month:%B %Y})",
        "Description": (
            f"Clarion approved an SLA credit of {credit.currency} {credit.amount} for "
            f"{credit.customer.name}: {credit.credit_pct}% of the monthly fee, month-to-date "
            f"uptime {credit.uptime_pct}% in {credit.month:%B %Y}, after {credit.cause}."
        ),
        "Status": "Completed",
        "Priority": "Normal",
        "ActivityDate": credit.month.isoformat(),
    }


def credits_push_salesforce(*, credit_ids: Sequence[int]) -> dict[str, int]:
    """Push each approved, not yet pushed credit whose customer has a Salesforce account.

    Transient failures are raised (the task retries the rest later); a permanent one is
    logged with the credit and raised too, so that it shows in the worker's log."""
    connection = _connection()
    if connection is None:
        return {"skipped": len(credit_ids)}
    rows = list(
        SlaCredit.objects.filter(
            pk__in=credit_ids,
            state__in=(CreditState.APPROVED, CreditState.APPLIED),
            salesforce_task_id="",
        )
        .exclude(customer__salesforce_account_id="")
        .select_related("customer", "incident", "maintenance")
        .order_by("pk")
    )
    if not rows:
        return {"pushed": 0}
    client = _client(connection)
    pushed = 0
    try:
        for credit in rows:
            try:
                task_id = client.task_create(task_fields(credit))
            except PermanentError:
                logger.exception("SLA credit %s: Salesforce refused the Task", credit.pk)
                raise
            with transaction.atomic():
                SlaCredit.objects.filter(pk=credit.pk).update(salesforce_task_id=task_id[:18])
                audit_record(
                    actor=ACTOR,
                    action="sla_credit.pushed_to_salesforce",
                    obj=credit,
                    details={"task_id": task_id},
                )
            pushed += 1
    finally:
        client.close()
    return {"pushed": pushed}
