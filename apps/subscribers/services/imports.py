"""CSV import of customers and subscribers: all or nothing, with a report for every row.

Every row goes through the same use-case as one typed in the admin or sent to the API
(`customer_upsert`, `subscriber_create` / `subscriber_update`), each in a savepoint of one
transaction. If any row is rejected, or on a dry run, the whole transaction is rolled back:
the file either applies fully or the report says exactly which rows did not and why.

File rules: UTF-8 (a BOM, as Excel writes it, is fine), comma- or semicolon-separated, a
header row naming the columns (any order, any case; unknown columns are refused). An empty
cell keeps the current value of an existing row and takes the default for a new one. Lists
(services, channels, kinds) are separated by spaces, `|`, `;` or `,`. Row numbers count the
header as row 1, as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core.audit import Actor, audit_record
from apps.core.exceptions import ApplicationError, ValidationFailed
from apps.subscribers.choices import SubscriberSource
from apps.subscribers.models import Subscriber
from apps.subscribers.services.common import UNCHANGED
from apps.subscribers.services.customers import customer_upsert
from apps.subscribers.services.subscribers import (
    subscriber_confirm,
    subscriber_create,
    subscriber_snapshot,
    subscriber_update,
)
from apps.subscribers.validators import normalize_email, normalize_phone

MAX_ROWS = 20_000
RowOutcome = Literal["added", "updated", "unchanged", "rejected"]
CUSTOMER_COLUMNS = (
    "external_key",
    "name",
    "tier",
    "region",
    "time_zone",
    "locale",
    "monthly_fee",
    "currency",
    "salesforce_account_id",
    "hubspot_company_id",
    "active",
)
SUBSCRIBER_COLUMNS = (
    "email",
    "phone",
    "name",
    "customer",
    "region",
    "time_zone",
    "locale",
    "services",
    "channels",
    "kinds",
    "webhook_url",
    "slack_webhook_url",
    "teams_webhook_url",
)
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
_LIST_SEPARATORS = re.compile(r"[\s|;,]+")
CsvSource = IO[bytes] | IO[str] | bytes | str


@dataclass(frozen=True)
class RowReport:
    """What happened (or, when nothing was applied, would have happened) to one row."""

    row: int
    key: str
    outcome: RowOutcome
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        return [
            f"{name}: {message}" if name != "row" else message
            for name, messages in self.errors.items()
            for message in messages
        ]


@dataclass(frozen=True)
class ImportReport:
    """The outcome of one file. `applied` is true only when every row was accepted and it
    was not a dry run."""

    kind: str
    dry_run: bool
    applied: bool
    rows: tuple[RowReport, ...] = ()
    file_errors: tuple[str, ...] = ()

    def _count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def added(self) -> int:
        return self._count("added")

    @property
    def updated(self) -> int:
        return self._count("updated")

    @property
    def unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def rejected(self) -> int:
        return self._count("rejected")

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.rejected

    @property
    def summary(self) -> str:
        if self.file_errors:
            return "Nothing was imported: " + " ".join(self.file_errors)
        counts = (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.rejected} rejected"
        )
        if self.rejected:
            return (
                f"Nothing was imported: {self.rejected} of {len(self.rows)} rows were rejected "
                f"({counts}). Fix them and upload the file again."
            )
        if self.dry_run:
            return f"Dry run, nothing was changed. The file would apply: {counts}."
        return f"Imported {self.kind}: {counts}."


@dataclass(frozen=True)
class _Row:
    number: int
    values: dict[str, str]
    problems: dict[str, list[str]]


def _text(source: CsvSource) -> str:
    data = source if isinstance(source, bytes | str) else source.read()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(
                "The file is not UTF-8 text; save it as 'CSV UTF-8' and upload it again."
            ) from exc
    return data.removeprefix("\ufeff")


def _read(source: CsvSource, columns: tuple[str, ...]) -> list[_Row]:
    """The file's data rows (blank ones skipped), or a ValidationFailed that says what is
    wrong with the file as a whole."""
    text = _text(source)
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise ValidationFailed("The file is empty; the first row must name the columns.")
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower().replace(" ", "_") for h in next(reader)]
        unknown = [h for h in header if h not in columns]
        if unknown:
            raise ValidationFailed(
                f"Unknown column(s): {', '.join(unknown) or '(a column without a name)'}. "
                f"The columns are: {', '.join(columns)}."
            )
        repeated = sorted({h for h in header if header.count(h) > 1})
        if repeated:
            raise ValidationFailed(f"Column(s) named twice: {', '.join(repeated)}.")
        rows: list[_Row] = []
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise ValidationFailed(
                    f"The file has more than {MAX_ROWS} rows; split it into smaller files."
                )
            problems: dict[str, list[str]] = {}
            if len(cells) > len(header):
                problems["row"] = [
                    f"This row has {len(cells)} cells but the header names {len(header)} "
                    "columns; quote cells that contain the separator."
                ]
            values = {h: c.strip() for h, c in zip(header, cells, strict=False)}
            rows.append(_Row(number, values, problems))
    except csv.Error as exc:
        raise ValidationFailed(f"The file is not valid CSV: {exc}.") from exc
    if not rows:
        raise ValidationFailed("The file has a header but no rows.")
    return rows


def _run(
    *,
    kind: str,
    rows: list[_Row],
    key_of: Callable[[_Row], tuple[str, list[tuple[str, str]]]],
    apply: Callable[[_Row], tuple[RowOutcome, dict[str, list[str]]]],
    actor: Actor,
    dry_run: bool,
) -> ImportReport:
    """Apply every row in its own savepoint; keep it all only if every row was accepted
    and this is not a dry run. `key_of` gives what the report shows for a row and each
    (identity, column) that identifies it: a row sharing any identity with an earlier row
    is about the same person (or customer) and is rejected."""
    reports: list[RowReport] = []
    first_row: dict[str, int] = {}
    with transaction.atomic():
        for row in rows:
            key, identities = key_of(row)
            errors = {k: list(v) for k, v in row.problems.items()}
            for identity, column in identities:
                if identity in first_row:
                    errors.setdefault(column, []).append(
                        f"Row {first_row[identity]} has the same {column}; give each one once."
                    )
            for identity, _ in identities:
                first_row.setdefault(identity, row.number)
            outcome: RowOutcome = "rejected"
            if not errors:
                try:
                    with transaction.atomic():
                        outcome, errors = apply(row)
                        if errors:
                            raise ValidationFailed("rejected", fields=errors)
                except ApplicationError as exc:
                    errors = exc.fields or {"row": [exc.message]}
                    outcome = "rejected"
            if errors:
                outcome = "rejected"
            reports.append(RowReport(row.number, key, outcome, errors))
        report = ImportReport(kind=kind, dry_run=dry_run, applied=False, rows=tuple(reports))
        if report.rejected or dry_run:
            transaction.set_rollback(True)
            return report
        report = ImportReport(kind=kind, dry_run=False, applied=True, rows=tuple(reports))
        audit_record(
            actor=actor,
            action=f"{kind}.imported",
            details={
                "rows": len(rows),
                "added": report.added,
                "updated": report.updated,
                "unchanged": report.unchanged,
            },
        )
        return report


def _file_refused(kind: str, dry_run: bool, exc: ApplicationError) -> ImportReport:
    return ImportReport(kind=kind, dry_run=dry_run, applied=False, file_errors=(exc.message,))


def _given(values: dict[str, str], name: str) -> Any:
    """The cell, or UNCHANGED when the column is absent or the cell empty."""
    value = values.get(name, "")
    return value if value else UNCHANGED


def _bool(values: dict[str, str], name: str, errors: dict[str, list[str]]) -> Any:
    value = values.get(name, "").lower()
    if not value:
        return UNCHANGED
    if value in _TRUE | _FALSE:
        return value in _TRUE
    errors[name] = [f"{values[name]!r} is not yes or no (true/false, 1/0)."]
    return UNCHANGED


def _decimal(values: dict[str, str], name: str, errors: dict[str, list[str]]) -> Any:
    value = values.get(name, "").replace(" ", "")
    if not value:
        return UNCHANGED
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    # NaN and Infinity parse, but are no amount (and NaN breaks any comparison).
    if amount is None or not amount.is_finite():
        errors[name] = [f"{values[name]!r} is not an amount such as 1250.00."]
        return UNCHANGED
    return amount


def _list(values: dict[str, str], name: str) -> Any:
    value = values.get(name, "")
    return [v for v in _LIST_SEPARATORS.split(value) if v] if value else UNCHANGED


# --- customers ----------------------------------------------------------------------------


def _customer_row(row: _Row, actor: Actor) -> tuple[RowOutcome, dict[str, list[str]]]:
    values = row.values
    errors: dict[str, list[str]] = {}
    arguments = {
        name: _given(values, name)
        for name in (
            "name",
            "tier",
            "region",
            "time_zone",
            "locale",
            "currency",
            "salesforce_account_id",
            "hubspot_company_id",
        )
    }
    arguments["monthly_fee"] = _decimal(values, "monthly_fee", errors)
    arguments["active"] = _bool(values, "active", errors)
    try:
        _, outcome = customer_upsert(
            external_key=values.get("external_key", ""), **arguments, actor=actor
        )
    except ApplicationError as exc:
        return "rejected", {**(exc.fields or {"row": [exc.message]}), **errors}
    return outcome, errors


@transaction.atomic
def csv_import_customers(file: CsvSource, *, actor: Actor, dry_run: bool = False) -> ImportReport:
    """Create or update customers from a CSV file, by `external_key` (required). Columns:
    external_key, name (required for a new customer), tier, region (code), time_zone,
    locale, monthly_fee, currency, salesforce_account_id, hubspot_company_id, active."""
    try:
        rows = _read(file, CUSTOMER_COLUMNS)
        if "external_key" not in rows[0].values:
            raise ValidationFailed("The column external_key is required: it identifies the row.")
    except ApplicationError as exc:
        return _file_refused("customers", dry_run, exc)

    def key_of(row: _Row) -> tuple[str, list[tuple[str, str]]]:
        key = row.values.get("external_key", "")
        return key, [(key, "external_key")] if key else []

    return _run(
        kind="customers",
        rows=rows,
        key_of=key_of,
        apply=lambda row: _customer_row(row, actor),
        actor=actor,
        dry_run=dry_run,
    )


# --- subscribers --------------------------------------------------------------------------


def _identity(row: _Row) -> tuple[str, list[tuple[str, str]]]:
    """What the report shows (the e-mail address, else the phone number), and every
    (identity, column) of the row: two rows sharing an e-mail address *or* a phone number
    are one person, and the second would silently update what the first wrote."""
    shown = ""
    identities: list[tuple[str, str]] = []
    for column, normalise in (("email", normalize_email), ("phone", normalize_phone)):
        value = row.values.get(column, "")
        if not value:
            continue
        shown = shown or value
        try:
            identities.append((f"{column}:{normalise(value)}", column))
        except ValidationError:
            identities.append((f"{column}:{value}", column))
    return shown, identities


def _existing(values: dict[str, str]) -> Subscriber | None:
    """The subscriber a row is about: by e-mail address when the row has one, else by phone
    number. (A row with a new address and someone else's phone is not that someone: the
    use-case refuses the phone as taken.)"""
    column, normalise = (
        ("email", normalize_email) if values.get("email") else ("phone", normalize_phone)
    )
    try:
        return Subscriber.objects.filter(**{column: normalise(values[column])}).first()
    except ValidationError:
        return None  # the use-case reports the invalid value


def _subscriber_row(
    row: _Row, actor: Actor, skip_confirmation: bool
) -> tuple[RowOutcome, dict[str, list[str]]]:
    values = row.values
    if not values.get("email") and not values.get("phone"):
        return "rejected", {
            "email": ["Give an e-mail address or a phone number: it identifies the subscriber."]
        }
    arguments: dict[str, Any] = {
        name: _given(values, name)
        for name in (
            "email",
            "phone",
            "name",
            "customer",
            "region",
            "time_zone",
            "locale",
            "webhook_url",
            "slack_webhook_url",
            "teams_webhook_url",
        )
    }
    for name in ("services", "channels", "kinds"):
        arguments[name] = _list(values, name)
    existing = _existing(values)
    if existing is None:
        given = {k: v for k, v in arguments.items() if v is not UNCHANGED}
        subscriber_create(
            **given, source=SubscriberSource.IMPORT, confirmed=skip_confirmation, actor=actor
        )
        return "added", {}
    before = subscriber_snapshot(existing)
    subscriber = subscriber_update(subscriber=existing, **arguments, actor=actor)
    if skip_confirmation and subscriber.confirmed_at is None and not subscriber.unsubscribed_at:
        subscriber = subscriber_confirm(subscriber=subscriber, actor=actor)
    return ("updated" if subscriber_snapshot(subscriber) != before else "unchanged"), {}


@transaction.atomic
def csv_import_subscribers(
    file: CsvSource, *, actor: Actor, dry_run: bool = False, skip_confirmation: bool = False
) -> ImportReport:
    """Create or update subscribers from a CSV file, matched by e-mail address, else by
    phone number (one of them is required per row). Columns: email, phone, name, customer
    (external key), region (code), time_zone, locale, services ("all" or slugs), channels,
    kinds, webhook_url, slack_webhook_url, teams_webhook_url.

    New subscribers come from source `import`. With `skip_confirmation` (the tenant vouches
    that these people agreed to hear from it) new and pending ones are confirmed; someone
    who unsubscribed is never subscribed again by an import."""
    try:
        rows = _read(file, SUBSCRIBER_COLUMNS)
        if not {"email", "phone"} & set(rows[0].values):
            raise ValidationFailed("The file needs an email or a phone column to identify rows.")
    except ApplicationError as exc:
        return _file_refused("subscribers", dry_run, exc)
    return _run(
        kind="subscribers",
        rows=rows,
        key_of=_identity,
        apply=lambda row: _subscriber_row(row, actor, skip_confirmation),
        actor=actor,
        dry_run=dry_run,
    )
