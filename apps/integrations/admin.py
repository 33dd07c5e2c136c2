"""Integrations in the tenant admin: integrations (token and secret shown once), routing
rules, every received event, the inbox of unrouted alerts, and alert states."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.integrations.choices import EventStatus
from apps.integrations.models import (
    AlertState,
    InboundEvent,
    Integration,
    RoutingRule,
    UnroutedEvent,
)
from apps.integrations.services import (
    inbound_events_requeue,
    integration_create,
    integration_rotate,
    integration_set_secret,
    integration_update,
)
from apps.integrations.services.integrations import VENDOR_SECRET_SOURCES
from apps.integrations.setup_hints import SECRET_HINTS

SETTINGS_FIELDS = (
    "default_severity",
    "grouping_window_minutes",
    "quiet_period_minutes",
    "flapping_threshold",
    "flapping_window_minutes",
)


def _incident_link(incident_id: int | None) -> SafeString | str:
    if incident_id is None:
        return "—"
    url = reverse("admin:incidents_incident_change", args=[incident_id])
    return format_html('<a href="{}">#{}</a>', url, incident_id)


def _pretty(value: Any) -> SafeString:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


class IntegrationForm(forms.ModelForm):  # type: ignore[type-arg]
    new_secret = forms.CharField(
        label="Signing secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="PagerDuty and Sentry generate their own: paste it here. For the other tools "
        "leave it empty and Clarion generates one (shown once).",
    )

    class Meta:
        model = Integration
        fields = ("source", "name", "enabled", *SETTINGS_FIELDS)

    def clean_source(self) -> str:
        source = str(self.cleaned_data["source"])
        if self.instance.pk is None and Integration.objects.filter(source=source).exists():
            raise forms.ValidationError(
                "This tenant already has an integration for this tool; rotate its token and "
                "secret instead (action on the list)."
            )
        return source


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = IntegrationForm
    list_display = ("name", "source", "enabled", "hook_url", "created_at")
    list_filter = ("source", "enabled")
    actions = ("rotate",)

    def get_fields(self, request: HttpRequest, obj: Integration | None = None) -> Any:
        if obj is None:
            return ("source", "name", "new_secret", "enabled", *SETTINGS_FIELDS)
        return (
            "source",
            "name",
            "hook_url",
            "setup_hint",
            "new_secret",
            "enabled",
            *SETTINGS_FIELDS,
            "created_at",
            "created_by",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Integration | None = None) -> Any:
        if obj is None:
            return ()
        return ("source", "hook_url", "setup_hint", "created_at", "created_by")

    @admin.display(description="hook URL")
    def hook_url(self, obj: Integration) -> str:
        return obj.hook_path

    @admin.display(description="where the secret goes")
    def setup_hint(self, obj: Integration) -> str:
        return SECRET_HINTS.get(obj.source, "")  # type: ignore[call-overload]

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        data = form.cleaned_data
        settings_values = {name: data[name] for name in SETTINGS_FIELDS}
        if not change:
            created, secret = integration_create(
                source=data["source"],
                name=data["name"],
                secret=data["new_secret"] or None,
                enabled=data["enabled"],
                actor=request.user,
                **settings_values,
            )
            obj.pk = created.pk
            obj.refresh_from_db()
            self._show_credentials(request, obj, secret, created=True)
            return
        integration_update(
            integration=obj,
            name=data["name"],
            enabled=data["enabled"],
            actor=request.user,
            **settings_values,
        )
        if data["new_secret"]:
            integration_set_secret(integration=obj, secret=data["new_secret"], actor=request.user)
        obj.refresh_from_db()

    def _show_credentials(
        self, request: HttpRequest, obj: Integration, secret: str, *, created: bool
    ) -> None:
        url = request.build_absolute_uri(obj.hook_path)
        if obj.source not in VENDOR_SECRET_SOURCES:
            shown = format_html(
                "Secret: <code>{}</code> — copy it now, it is not shown again.", secret
            )
        elif obj.secret:
            shown = format_html("Secret: the one {} generated.", obj.get_source_display())
        else:
            shown = format_html(
                "No secret yet: paste the one {} generates (edit this integration).",
                obj.get_source_display(),
            )
        messages.success(
            request,
            format_html(
                "{} {}: hook URL <code>{}</code> (token <code>{}</code>). {} {}",
                obj.get_source_display(),
                "created" if created else "rotated",
                url,
                obj.token,
                shown,
                SECRET_HINTS.get(obj.source, ""),  # type: ignore[call-overload]
            ),
        )

    @admin.action(description="Rotate token and secret (the old ones stop working)")
    def rotate(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset:
            rotated, secret = integration_rotate(integration=integration, actor=request.user)
            self._show_credentials(request, rotated, secret, created=False)


class RoutingRuleForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = RoutingRule
        fields = (
            "name",
            "integration",
            "position",
            "enabled",
            "matchers",
            "services",
            "component_status",
            "regions",
            "severity",
        )
        error_messages = {
            "services": {"required": "Choose the services alerts matching this rule affect."}
        }


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = RoutingRuleForm
    list_display = (
        "name",
        "position",
        "integration",
        "shown_matchers",
        "shown_services",
        "severity",
        "enabled",
    )
    list_editable = ("position", "enabled")
    list_filter = ("integration", "enabled")
    filter_horizontal = ("services", "regions")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingRule]:
        return super().get_queryset(request).prefetch_related("services")

    @admin.display(description="matchers")
    def shown_matchers(self, obj: RoutingRule) -> str:
        return ", ".join(f"{k}={v}" for k, v in (obj.matchers or {}).items()) or "every alert"

    @admin.display(description="services")
    def shown_services(self, obj: RoutingRule) -> str:
        return ", ".join(s.slug for s in obj.services.all())


class EventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Events are records: read-only, except "process again"."""

    list_display: tuple[str, ...] = (
        "received_at",
        "integration",
        "event_type",
        "title",
        "status",
        "incident_link",
        "flapping",
    )
    list_filter = ["status", "integration", "alert_status", "flapping"]
    search_fields = ("event_key", "dedup_key", "title")
    date_hierarchy = "received_at"
    actions = ("process_again",)
    fields = (
        "integration",
        "event_key",
        "event_type",
        "received_at",
        "status",
        "reason",
        "queued_at",
        "processed_at",
        "alert_status",
        "dedup_key",
        "title",
        "shown_labels",
        "incident_link",
        "maintenance",
        "flapping",
        "shown_headers",
        "shown_payload",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundEvent]:
        return super().get_queryset(request).select_related("integration")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # The page of one event is read-only; the list's action needs the permission.
        return obj is None and super().has_change_permission(request)

    @admin.display(description="incident")
    def incident_link(self, obj: InboundEvent) -> SafeString | str:
        return _incident_link(obj.incident_id)

    @admin.display(description="labels")
    def shown_labels(self, obj: InboundEvent) -> SafeString:
        return _pretty(obj.labels)

    @admin.display(description="headers")
    def shown_headers(self, obj: InboundEvent) -> SafeString:
        return _pretty(obj.headers)

    @admin.display(description="payload")
    def shown_payload(self, obj: InboundEvent) -> SafeString:
        return _pretty(obj.payload)

    @admin.action(description="Process again (after adding a routing rule)", permissions=["change"])
    def process_again(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> None:
        queued = inbound_events_requeue(events=list(queryset), actor=request.user)
        skipped = queryset.count() - queued
        messages.success(
            request,
            f"{queued} event(s) queued for processing."
            + (f" {skipped} already processed or ignored were left alone." if skipped else ""),
        )


@admin.register(InboundEvent)
class InboundEventAdmin(EventAdmin):
    pass


@admin.register(UnroutedEvent)
class InboxAdmin(EventAdmin):
    """Alerts no routing rule matched: add a rule, then process them again."""

    list_display = ("received_at", "integration", "title", "shown_label_list", "reason")
    list_filter = ["integration"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundEvent]:
        return super().get_queryset(request).filter(status=EventStatus.UNROUTED)

    @admin.display(description="labels")
    def shown_label_list(self, obj: InboundEvent) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted((obj.labels or {}).items()))


@admin.register(AlertState)
class AlertStateAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "title",
        "integration",
        "status",
        "incident_link",
        "flapping_since",
        "last_changed_at",
    )
    list_filter = ("status", "integration")
    search_fields = ("dedup_key", "title")
    readonly_fields = (
        "integration",
        "dedup_key",
        "status",
        "title",
        "labels",
        "services",
        "incident_link",
        "maintenance",
        "incidents_opened",
        "firings",
        "flapping_since",
        "first_seen_at",
        "last_event_at",
        "last_changed_at",
        "recovered_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="incident")
    def incident_link(self, obj: AlertState) -> SafeString | str:
        return _incident_link(obj.incident_id)


# --- support coordination: help desk, chat, canned responses --------------------------------

from apps.core.exceptions import ApplicationError  # noqa: E402
from apps.core.forms import ServiceFormAdmin  # noqa: E402
from apps.integrations.forms import (  # noqa: E402
    CHAT_SECRETS,
    HELPDESK_SECRETS,
    ChatInstallationForm,
    HelpdeskInstallationForm,
    secret_input,
)
from apps.integrations.models_support import (  # noqa: E402
    CannedResponseTemplate,
    ChatInstallation,
    HelpdeskInstallation,
)
from apps.integrations.services.canned import canned_template_check  # noqa: E402

SECRETS_TITLE = "Credentials (stored encrypted, never shown)"


def _secret_state(value: str) -> str:
    return "Set (stored encrypted)" if value else "Not set"


def _secret_rows(
    admin_: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    obj: Any,
    secrets: tuple[str, ...],
) -> tuple[str, ...]:
    """Whether each secret is set (on an existing row), then the inputs that replace them
    (for those who may edit; a viewer's page would show them as read-only values)."""
    shown = tuple(f"{name}_state" for name in secrets) if obj is not None else ()
    editable = obj is None or admin_.has_change_permission(request, obj)
    return shown + (tuple(secret_input(name) for name in secrets) if editable else ())


@admin.register(HelpdeskInstallation)
class HelpdeskInstallationAdmin(ServiceFormAdmin):
    """The tenant's help desk: what to match, whether to answer and auto-close. Saved by
    the form's service call (see apps.integrations.forms)."""

    form = HelpdeskInstallationForm
    list_display = ("__str__", "enabled", "auto_reply", "auto_close", "hook_url")
    readonly_fields = ("hook_url", "api_token_state", "webhook_secret_state")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        account = ("provider", "enabled", "subdomain", "email", "api_base_url")
        return (
            (None, {"fields": account + (("hook_url",) if obj is not None else ())}),
            (SECRETS_TITLE, {"fields": _secret_rows(self, request, obj, HELPDESK_SECRETS)}),
            (
                "Which tickets are about an incident",
                {
                    "fields": (
                        "match_incident_terms",
                        "match_keywords",
                        "match_organisations",
                        "match_fields",
                    )
                },
            ),
            ("What Clarion does with them", {"fields": ("auto_reply", "auto_close")}),
        )

    @admin.display(description="Zendesk webhook URL (new tickets)")
    def hook_url(self, obj: HelpdeskInstallation) -> str:
        return obj.hook_path if obj.webhook_token else "shown once saved"

    @admin.display(description="API token")
    def api_token_state(self, obj: HelpdeskInstallation) -> str:
        return _secret_state(obj.api_token)

    @admin.display(description="Webhook signing secret")
    def webhook_secret_state(self, obj: HelpdeskInstallation) -> str:
        return _secret_state(obj.webhook_secret)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not HelpdeskInstallation.objects.exists()


@admin.register(ChatInstallation)
class ChatInstallationAdmin(ServiceFormAdmin):
    form = ChatInstallationForm
    readonly_fields = ("slack_bot_token_state", "teams_webhook_url_state")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return (
            (None, {"fields": ("enabled",)}),
            (SECRETS_TITLE, {"fields": _secret_rows(self, request, obj, CHAT_SECRETS)}),
            ("Slack", {"fields": ("slack_base_url", "support_channel")}),
            (
                "Who is called (Slack user ids)",
                {"fields": ("war_room_responders", "executives", "on_call", "vps")},
            ),
        )

    @admin.display(description="Slack bot token")
    def slack_bot_token_state(self, obj: ChatInstallation) -> str:
        return _secret_state(obj.slack_bot_token)

    @admin.display(description="Teams webhook URL")
    def teams_webhook_url_state(self, obj: ChatInstallation) -> str:
        return _secret_state(obj.teams_webhook_url)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not ChatInstallation.objects.exists()


class CannedResponseTemplateForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = CannedResponseTemplate
        fields = ("locale", "source")

    def clean_source(self) -> str:
        source = str(self.cleaned_data["source"])
        try:
            canned_template_check(source)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.fields.get("source") or exc.message) from exc
        return source


@admin.register(CannedResponseTemplate)
class CannedResponseTemplateAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = CannedResponseTemplateForm
    list_display = ("locale", "updated_at")
