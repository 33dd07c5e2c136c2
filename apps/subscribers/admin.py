"""Customers, subscribers, segments and suppressions in the tenant admin, with search,
filters and the CSV import of customers and subscribers (upload, then a per-row report);
CRM connections (credentials entered, stored encrypted, never shown back; "Sync now") and
their sync logs.

Every save and delete goes through the use-cases (see forms.py), so the audit log and the
rules are the same as in the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from apps.core.exceptions import ApplicationError
from apps.core.forms import ServiceFormAdmin, ServiceModelForm
from apps.subscribers import selectors, services
from apps.subscribers.choices import CHANNEL_ADDRESS_FIELD, SubscriberChannel
from apps.subscribers.forms import (
    CsvImportForm,
    CustomerForm,
    SegmentForm,
    SubscriberCsvImportForm,
    SubscriberForm,
    SuppressionForm,
)
from apps.subscribers.models import (
    CrmConnection,
    CrmSyncLog,
    CrmSyncStatus,
    Customer,
    Segment,
    Subscriber,
    Suppression,
)
from apps.subscribers.services import ImportReport, crm
from apps.subscribers.services.crm import CREDENTIAL_KEYS, crm_stored_credentials

IMPORT_TEMPLATE = "admin/subscribers/import.html"
CHANGE_LIST_TEMPLATE = "admin/subscribers/change_list.html"


class ServiceWriteAdmin(ServiceFormAdmin):
    """Saves through the form's service call; deletes through `delete_with`."""

    def delete_with(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_with(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_with(request, obj)


class CsvImportAdmin(ServiceWriteAdmin):
    """Adds `import/`: upload a CSV file, see what was (or would be) added, updated and
    rejected, row by row."""

    change_list_template = CHANGE_LIST_TEMPLATE
    import_form: type[CsvImportForm] = CsvImportForm
    import_columns: tuple[str, ...] = ()
    import_help = ""

    def run_import(self, request: HttpRequest, form: CsvImportForm) -> ImportReport:
        raise NotImplementedError

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="{}_{}_import".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        can_import = self.has_add_permission(request) and self.has_change_permission(request)
        import_url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_import",
            current_app=self.admin_site.name,
        )
        context = {"import_url": import_url if can_import else "", **(extra_context or {})}
        return super().changelist_view(request, context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        report: ImportReport | None = None
        if request.method == "POST":
            form = self.import_form(request.POST, request.FILES)
            if form.is_valid():
                report = self.run_import(request, form)
                level = messages.SUCCESS if report.ok else messages.ERROR
                messages.add_message(request, level, report.summary)
                if report.applied:
                    form = self.import_form()
        else:
            form = self.import_form()
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Import {self.opts.verbose_name_plural} from CSV",
            "form": form,
            "report": report,
            "columns": self.import_columns,
            "import_help": self.import_help,
            "changelist_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                current_app=self.admin_site.name,
            ),
        }
        return TemplateResponse(request, IMPORT_TEMPLATE, context)


# --- customers ----------------------------------------------------------------------------


@admin.register(Customer)
class CustomerAdmin(CsvImportAdmin):
    form = CustomerForm
    list_display = ("name", "external_key", "tier", "region", "subscriber_count", "active")
    list_filter = ("tier", "region", "active")
    search_fields = ("name", "external_key", "salesforce_account_id", "hubspot_company_id")
    list_select_related = ("region",)
    fieldsets = (
        (None, {"fields": ("name", "external_key", "tier", "active")}),
        ("Where and how to speak to them", {"fields": ("region", "time_zone", "locale")}),
        ("Contract", {"fields": ("monthly_fee", "currency")}),
        ("CRM", {"fields": ("salesforce_account_id", "hubspot_company_id")}),
    )
    import_columns = services.CUSTOMER_COLUMNS
    import_help = (
        "Rows are matched by external_key (required): a known key updates that customer, a "
        "new one adds it (name is then required). Empty cells keep the current value."
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return super().get_queryset(request).annotate(subscriber_total=Count("subscribers"))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The key identifies the customer in the tenant's product and in imports.
        if obj is None:
            return ()
        # A CRM-linked customer's synced fields: the next sync would undo a change here.
        return ("external_key", *(crm.CRM_SYNCED if crm.crm_owner(obj) else ()))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        owner = crm.crm_owner(obj) if obj is not None else None
        if owner is None:
            return self.fieldsets
        ((title, options), *rest) = self.fieldsets
        account = getattr(obj, crm.CUSTOMER_ID_FIELD[owner.provider])
        note = (
            f"Name, tier, region, monthly fee and currency come from {owner} (account "
            f"{account}): change them there, since each sync replaces them here."
        )
        return ((title, {**options, "description": note}), *rest)

    @admin.display(description="subscribers", ordering="subscriber_total")
    def subscriber_count(self, customer: Customer) -> int:
        return int(getattr(customer, "subscriber_total", 0))

    def delete_with(self, request: HttpRequest, obj: Customer) -> None:
        services.customer_delete(customer=obj, actor=request.user)

    def run_import(self, request: HttpRequest, form: CsvImportForm) -> ImportReport:
        data = form.cleaned_data
        return services.csv_import_customers(
            data["file"], actor=request.user, dry_run=data["dry_run"]
        )


# --- subscribers --------------------------------------------------------------------------


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("receiving", "Receiving (confirmed)"),
            ("pending", "Pending confirmation"),
            ("unsubscribed", "Unsubscribed"),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Subscriber]
    ) -> QuerySet[Subscriber]:
        value = self.value()
        if value == "receiving":
            return queryset.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)
        if value == "pending":
            return queryset.filter(confirmed_at__isnull=True, unsubscribed_at__isnull=True)
        if value == "unsubscribed":
            return queryset.filter(unsubscribed_at__isnull=False)
        return queryset


class ChannelFilter(admin.SimpleListFilter):
    title = "reachable by"
    parameter_name = "reachable"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(c.value, str(c.label)) for c in SubscriberChannel]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Subscriber]
    ) -> QuerySet[Subscriber]:
        value = self.value()
        if value not in CHANNEL_ADDRESS_FIELD:
            return queryset
        field = CHANNEL_ADDRESS_FIELD[value]
        return queryset.exclude(**{field: ""}).filter(subscription__channels__contains=[value])


def _bulk(
    description: str, run: Callable[[Subscriber, Any], object]
) -> Callable[[Any, HttpRequest, QuerySet[Subscriber]], None]:
    def act(model_admin: Any, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        done, refused = 0, []
        for subscriber in queryset:
            try:
                run(subscriber, request.user)
                done += 1
            except ApplicationError as exc:
                refused.append(exc.message)
        if done:
            messages.success(request, f"{description}: {done} subscriber(s).")
        for message in refused:
            messages.error(request, message)

    act.__name__ = description.lower().replace(" ", "_")
    return admin.action(description=f"{description} selected subscribers")(act)


@admin.register(Subscriber)
class SubscriberAdmin(CsvImportAdmin):
    form = SubscriberForm
    list_display = (
        "__str__",
        "email",
        "phone",
        "customer",
        "tier",
        "region_label",
        "state",
        "source",
        "created_at",
    )
    list_display_links = ("__str__",)
    list_filter = (StateFilter, ChannelFilter, "source", "customer__tier", "region")
    search_fields = ("name", "email", "phone", "customer__name", "customer__external_key")
    list_select_related = ("customer", "customer__region", "region")
    autocomplete_fields = ("customer",)
    readonly_fields = (
        "state",
        "confirmed_at",
        "unsubscribed_at",
        "source",
        "created_at",
        "webhook_health",
    )
    actions = [
        _bulk(
            "Confirm",
            lambda s, user: services.subscriber_confirm(subscriber=s, actor=user),
        ),
        _bulk(
            "Unsubscribe",
            lambda s, user: services.subscriber_unsubscribe(subscriber=s, actor=user),
        ),
        _bulk(
            "Turn webhook back on",
            lambda s, user: services.subscriber_webhook_enable(subscriber=s, actor=user),
        ),
    ]
    import_form = SubscriberCsvImportForm
    import_columns = services.SUBSCRIBER_COLUMNS
    import_help = (
        "Rows are matched by e-mail address, else by phone number (one of them is required). "
        "Lists (services, channels, kinds) are separated by spaces or |; services may be "
        '"all". Empty cells keep the current value.'
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        consent = ("state", "confirmed_at", "unsubscribed_at", "source")
        return (
            (None, {"fields": ("name", "customer", "region", "time_zone", "locale")}),
            (
                "Contact",
                {
                    "fields": (
                        "email",
                        "phone",
                        "webhook_url",
                        *(("webhook_health",) if obj is not None and obj.webhook_url else ()),
                        "slack_webhook_url",
                        "teams_webhook_url",
                    )
                },
            ),
            ("Subscription", {"fields": ("all_services", "services", "channels", "kinds")}),
            ("Consent", {"fields": ("confirmed",) if obj is None else consent}),
        )

    @admin.display(description="tier", ordering="customer__tier")
    def tier(self, subscriber: Subscriber) -> str:
        return subscriber.customer.get_tier_display() if subscriber.customer else "—"

    @admin.display(description="region")
    def region_label(self, subscriber: Subscriber) -> str:
        if subscriber.region is not None:
            return str(subscriber.region)
        if subscriber.customer is not None and subscriber.customer.region is not None:
            return f"{subscriber.customer.region} (customer's)"
        return "unknown (gets every region)"

    @admin.display(description="webhook")
    def webhook_health(self, subscriber: Subscriber) -> str:
        if subscriber.webhook_disabled_at is not None:
            return (
                f"Turned off since {subscriber.webhook_disabled_at:%Y-%m-%d %H:%M} UTC: "
                f"{subscriber.webhook_disabled_reason} Fixed? Use the action "
                '"Turn webhook back on selected subscribers" in the list, or save a new URL.'
            )
        if subscriber.webhook_failures:
            return f"Delivering; the last {subscriber.webhook_failures} deliveries failed."
        return "Delivering."

    @admin.display(description="state")
    def state(self, subscriber: Subscriber) -> str:
        if subscriber.unsubscribed_at is not None:
            return "unsubscribed"
        return "receiving" if subscriber.confirmed else "pending confirmation"

    def delete_with(self, request: HttpRequest, obj: Subscriber) -> None:
        services.subscriber_delete(subscriber=obj, actor=request.user)

    def run_import(self, request: HttpRequest, form: CsvImportForm) -> ImportReport:
        data = form.cleaned_data
        return services.csv_import_subscribers(
            data["file"],
            actor=request.user,
            dry_run=data["dry_run"],
            skip_confirmation=data["skip_confirmation"],
        )


# --- segments and suppressions ------------------------------------------------------------

PREVIEW_SAMPLE = 10


@admin.register(Segment)
class SegmentAdmin(ServiceWriteAdmin):
    form = SegmentForm
    list_display = ("name", "rule", "member_count", "updated_at")
    search_fields = ("name", "description")
    autocomplete_fields = ("customers",)
    readonly_fields = ("preview",)
    fieldsets = (
        (None, {"fields": ("name", "description")}),
        ("Rule", {"fields": ("tiers", "regions", "services", "customers")}),
        ("Members now", {"fields": ("preview",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Segment]:
        return selectors.segments_list()

    @admin.display(description="rule")
    def rule(self, segment: Segment) -> str:
        parts = [
            ("tiers", ", ".join(segment.tiers)),
            ("regions", ", ".join(r.code for r in segment.regions.all())),
            ("services", ", ".join(s.slug for s in segment.services.all())),
            ("customers", ", ".join(c.external_key for c in segment.customers.all())),
        ]
        return "; ".join(f"{name}: {values}" for name, values in parts if values) or "everyone"

    @admin.display(description="members now")
    def member_count(self, segment: Segment) -> int:
        return selectors.segment_members(segment).count()

    @admin.display(description="preview")
    def preview(self, segment: Segment) -> SafeString | str:
        if segment.pk is None:
            return "Save the segment to see who it selects."
        found = selectors.segment_preview(segment, sample=PREVIEW_SAMPLE)
        people = format_html_join(
            "", "<li>{}</li>", ((f"{s} ({s.customer or 'no customer'})",) for s in found.sample)
        )
        return format_html(
            "<strong>{} subscriber(s)</strong> (confirmed, not unsubscribed)<ul>{}</ul>",
            found.count,
            people,
        )

    def delete_with(self, request: HttpRequest, obj: Segment) -> None:
        services.segment_delete(segment=obj, actor=request.user)


@admin.register(Suppression)
class SuppressionAdmin(ServiceWriteAdmin):
    form = SuppressionForm
    list_display = ("address", "channel", "reason", "note", "created_at")
    list_filter = ("channel", "reason")
    search_fields = ("address",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A suppression is added or lifted (deleted), never edited.
        return obj is None and super().has_change_permission(request, obj)

    def delete_with(self, request: HttpRequest, obj: Suppression) -> None:
        services.suppression_remove(suppression=obj, actor=request.user)


# --- CRM ----------------------------------------------------------------------------------


class CrmConnectionForm(ServiceModelForm):
    """Credentials are write-only: the fields start empty, and an empty field keeps what
    is stored."""

    access_token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Salesforce: an OAuth access token (with the instance URL). HubSpot: the "
        "private app's access token. Leave empty to keep the stored one.",
    )
    username = forms.CharField(
        required=False,
        strip=True,
        help_text="Salesforce only, instead of a token: the integration user's login. Leave "
        "empty to keep the stored one.",
    )
    password = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(render_value=False)
    )
    security_token = forms.CharField(
        required=False, strip=True, widget=forms.PasswordInput(render_value=False)
    )
    domain = forms.ChoiceField(
        required=False,
        choices=[("", "---------"), ("login", "Production (login)"), ("test", "Sandbox (test)")],
        help_text="Salesforce password login only.",
    )

    class Meta:
        model = CrmConnection
        fields = ("provider", "enabled", "base_url", "sync_interval_minutes", "mapping")

    def clean_mapping(self) -> Any:
        mapping = self.cleaned_data.get("mapping")
        if mapping in (None, ""):
            return {}
        if not isinstance(mapping, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"tier_field": "Tier__c"}.')
        return mapping

    def run_service(self) -> CrmConnection:
        data = self.cleaned_data
        credentials = {k: data[k] for k in CREDENTIAL_KEYS if data.get(k)}
        if self.instance.pk is None:
            return services.crm_connection_create(
                provider=data["provider"],
                credentials=credentials,
                base_url=data["base_url"],
                mapping=data["mapping"],
                enabled=data["enabled"],
                sync_interval_minutes=data["sync_interval_minutes"],
                actor=self.actor,
            )
        return services.crm_connection_update(
            connection=self.instance,
            credentials=credentials,
            base_url=data["base_url"],
            mapping=data["mapping"],
            enabled=data["enabled"],
            sync_interval_minutes=data["sync_interval_minutes"],
            actor=self.actor,
        )


def _sync_message(request: HttpRequest, connection: CrmConnection, full: bool | None) -> None:
    """Run the sync and say how it went."""
    try:
        log = services.crm_sync(connection=connection, actor=request.user, full=full)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return
    kind = "Full sync" if log.full else "Sync"
    text = f"{kind} of {connection} {log.get_status_display().lower()}: {log.summary}."
    if log.errors:
        first, *others = log.errors.splitlines()
        more = f" (+{len(others)} more in the log)" if others else ""
        text += f" {first}{more}"
    level = {
        CrmSyncStatus.OK: messages.SUCCESS,
        CrmSyncStatus.PARTIAL: messages.WARNING,
    }.get(CrmSyncStatus(log.status), messages.ERROR)
    messages.add_message(request, level, text)


@admin.register(CrmConnection)
class CrmConnectionAdmin(ServiceWriteAdmin):
    form = CrmConnectionForm
    change_form_template = "admin/subscribers/crmconnection/change_form.html"
    list_display = (
        "__str__",
        "enabled",
        "sync_interval_minutes",
        "last_synced_at",
        "last_full_sync_at",
        "last_run",
    )
    readonly_fields = ("credentials_state", "last_synced_at", "last_full_sync_at", "created_at")
    actions = ["sync_now"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        credentials = (
            "access_token",
            "username",
            "password",
            "security_token",
            "domain",
        )
        return (
            (None, {"fields": ("provider", "enabled", "base_url", "sync_interval_minutes")}),
            (
                "Credentials (stored encrypted, never shown)",
                {"fields": (("credentials_state",) if obj else ()) + credentials},
            ),
            ("Field mapping", {"fields": ("mapping",)}),
            ("Progress", {"fields": ("last_synced_at", "last_full_sync_at", "created_at")}),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(self.readonly_fields)
        return (*fields, "provider") if obj is not None else fields

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/sync/",
                self.admin_site.admin_view(self.sync_view),
                name="{}_{}_sync".format(*info),
            ),
            *super().get_urls(),
        ]

    @admin.display(description="credentials")
    def credentials_state(self, connection: CrmConnection) -> str:
        stored = crm_stored_credentials(connection)
        if stored.get("access_token"):
            return "An access token is stored."
        if stored.get("username"):
            return "A user name, password and security token are stored."
        return "None stored: the sync cannot run."

    @admin.display(description="last run")
    def last_run(self, connection: CrmConnection) -> str:
        log = connection.logs.first()
        if log is None:
            return "never"
        return f"{log.started_at:%Y-%m-%d %H:%M} UTC, {log.get_status_display().lower()}"

    @admin.action(description="Sync now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[CrmConnection]) -> None:
        for connection in queryset:
            _sync_message(request, connection, full=None)

    def sync_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        connection = get_object_or_404(CrmConnection, pk=object_id)
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        _sync_message(request, connection, full=True if request.POST.get("full") else None)
        return HttpResponseRedirect(
            reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[connection.pk],
                current_app=self.admin_site.name,
            )
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        obj = self.get_object(request, object_id)
        if obj is not None and self.has_change_permission(request, obj):
            context["sync_url"] = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_sync",
                args=[obj.pk],
                current_app=self.admin_site.name,
            )
            context["logs_url"] = (
                reverse("admin:subscribers_crmsynclog_changelist", current_app=self.admin_site.name)
                + f"?connection__id__exact={obj.pk}"
            )
        return super().change_view(request, object_id, form_url, context)

    def delete_with(self, request: HttpRequest, obj: CrmConnection) -> None:
        services.crm_connection_delete(connection=obj, actor=request.user)


@admin.register(CrmSyncLog)
class CrmSyncLogAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """What each sync did; written by the sync only."""

    list_display = ("started_at", "connection", "full", "status", "took", "summary", "first_error")
    list_filter = ("connection", "status", "full")
    list_select_related = ("connection",)
    fields = (
        "connection",
        "started_at",
        "finished_at",
        "took",
        "full",
        "started_by",
        "status",
        "summary",
        "counts",
        "errors_block",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="duration")
    def took(self, log: CrmSyncLog) -> str:
        duration = log.duration
        return f"{duration.total_seconds():.1f} s" if duration is not None else "running"

    @admin.display(description="what changed")
    def summary(self, log: CrmSyncLog) -> str:
        return log.summary

    @admin.display(description="errors")
    def first_error(self, log: CrmSyncLog) -> str:
        lines = log.errors.splitlines()
        if not lines:
            return "—"
        return lines[0] + (f" (+{len(lines) - 1} more)" if len(lines) > 1 else "")

    @admin.display(description="errors")
    def errors_block(self, log: CrmSyncLog) -> SafeString | str:
        return format_html("<pre>{}</pre>", log.errors) if log.errors else "—"
