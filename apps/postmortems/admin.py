"""The portal's pages for SLA policies and credits, post-incident reviews and analytics.

Credits are computed, never typed: the credit list has no add form; it approves in bulk,
exports CSV for finance and marks credits applied or waived, each through a service.
Reviews are edited here (their text, timeline and action items) and completed or
published through services. The analytics page draws its charts server-side as SVG, each
with a CSV export of the same numbers `/api/v1/analytics/` returns.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from apps.core.exceptions import ApplicationError
from apps.postmortems import analytics
from apps.postmortems.choices import CreditState
from apps.postmortems.markdown import render_markdown
from apps.postmortems.models import (
    ActionItem,
    CustomerSlaPolicy,
    PostIncidentReview,
    SlaCredit,
    SlaPolicy,
    TierSlaPolicy,
    TimelineEntry,
)
from apps.postmortems.selectors import credits_csv, public_review
from apps.postmortems.services import (
    credit_set_state,
    credits_approve,
    credits_push_again,
    review_complete,
    review_publish,
)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "uptime_target", "maintenance", "updated_at")
    search_fields = ("name",)


@admin.register(TierSlaPolicy)
class TierSlaPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("tier", "policy")


@admin.register(CustomerSlaPolicy)
class CustomerSlaPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("customer", "policy")
    raw_id_fields = ("customer",)
    search_fields = ("customer__name", "customer__external_key")


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(SlaCredit)
class SlaCreditAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "customer",
        "incident",
        "maintenance",
        "month",
        "uptime_pct",
        "credit_pct",
        "amount",
        "currency",
        "state",
        "pre_approved",
        "salesforce_task_id",
    )
    list_filter = ("state", "month", "currency", "pre_approved", "salesforce_refused")
    search_fields = (
        "customer__name",
        "customer__external_key",
        "incident__title",
        "maintenance__title",
    )
    list_select_related = ("customer", "incident", "maintenance")
    actions = ("approve_selected", "export_csv", "mark_applied", "waive", "push_to_salesforce")
    readonly_fields = [f.name for f in SlaCredit._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Approve the selected proposed credits", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[SlaCredit]) -> None:
        count = credits_approve(credits=list(queryset), actor=request.user)
        skipped = queryset.count() - count
        note = f" ({skipped} were not proposed and stay as they are)" if skipped else ""
        self.message_user(request, f"{count} credit(s) approved{note}.", messages.SUCCESS)

    @admin.action(description="Export the selected credits as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[SlaCredit]) -> HttpResponse:
        rows = queryset.select_related("customer").order_by("month", "customer__name", "id")
        return _csv_response(credits_csv(rows), "sla-credits.csv")

    def _set_state(self, request: HttpRequest, queryset: QuerySet[SlaCredit], state: str) -> None:
        done, refused = 0, []
        for credit in queryset:
            try:
                credit_set_state(credit=credit, state=state, actor=request.user)
                done += 1
            except ApplicationError as exc:
                refused.append(exc.message)
        self.message_user(request, f"{done} credit(s) {state}.", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, reason, messages.ERROR)

    @admin.action(description="Mark the selected approved credits applied", permissions=["change"])
    def mark_applied(self, request: HttpRequest, queryset: QuerySet[SlaCredit]) -> None:
        self._set_state(request, queryset, CreditState.APPLIED)

    @admin.action(description="Waive the selected credits", permissions=["change"])
    def waive(self, request: HttpRequest, queryset: QuerySet[SlaCredit]) -> None:
        self._set_state(request, queryset, CreditState.WAIVED)

    @admin.action(
        description="Push the selected approved credits to Salesforce again",
        permissions=["change"],
    )
    def push_to_salesforce(self, request: HttpRequest, queryset: QuerySet[SlaCredit]) -> None:
        count = credits_push_again(credits=list(queryset), actor=request.user)
        self.message_user(
            request,
            f"{count} credit(s) queued for Salesforce; a refusal shows on the credit.",
            messages.SUCCESS,
        )


class TimelineInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TimelineEntry
    fields = ("at", "kind", "text", "internal")
    extra = 0


class ActionItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ActionItem
    fields = ("title", "owner", "due_date", "status", "tracker_url", "public", "reminder_error")
    readonly_fields = ("reminder_error",)
    extra = 1


@admin.register(PostIncidentReview)
class PostIncidentReviewAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    change_list_template = "admin/postmortems/postincidentreview/change_list.html"
    list_display = ("incident", "visibility", "status", "owner", "due_at", "published_at")
    list_filter = ("status", "visibility")
    list_select_related = ("incident", "owner")
    search_fields = ("incident__title", "summary")
    inlines = (TimelineInline, ActionItemInline)
    actions = ("complete", "publish")
    readonly_fields = (
        "incident",
        "visibility",
        "status",
        "due_at",
        "impact_figures",
        "customer_version",
        "completed_at",
        "published_at",
        "reminder_error",
    )
    fieldsets = (
        (None, {"fields": ("incident", "owner", "visibility", "status", "due_at")}),
        (
            "Content (markdown)",
            {
                "fields": (
                    "summary",
                    "customer_impact",
                    "impact_figures",
                    "root_cause",
                    "went_well",
                    "went_badly",
                    "public_fields",
                )
            },
        ),
        ("Customer-facing version", {"fields": ("customer_version",)}),
        ("Done", {"fields": ("completed_at", "published_at")}),
        ("Reminders", {"fields": ("reminder_error",)}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created on resolve

    @admin.display(description="Figures (internal)")
    def impact_figures(self, obj: PostIncidentReview) -> str:
        impact = obj.impact or {}
        credits = ", ".join(f"{c} {a}" for c, a in (impact.get("credits") or {}).items())
        return (
            f"{impact.get('duration_minutes', '?')} min; "
            f"{impact.get('customers_pct') or '?'}% of customers; "
            f"services: {', '.join(impact.get('services') or []) or '-'}; "
            f"regions: {', '.join(impact.get('regions') or []) or 'all'}; "
            f"credits: {credits or 'none'} "
            f"({impact.get('credited_customers', 0)} customers)"
        )

    @admin.display(description="What customers see once published")
    def customer_version(self, obj: PostIncidentReview) -> SafeString:
        if obj.visibility != "public":
            return mark_safe("<em>Internal review: customers see nothing.</em>")
        version = public_review(obj.incident)
        if version is None:
            return mark_safe("<em>Not published yet.</em>")
        return render_markdown(version.markdown)

    @admin.action(description="Complete the selected internal reviews", permissions=["change"])
    def complete(self, request: HttpRequest, queryset: QuerySet[PostIncidentReview]) -> None:
        self._run(request, queryset, review_complete, "completed")

    @admin.action(description="Publish the selected public reviews", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[PostIncidentReview]) -> None:
        self._run(request, queryset, review_publish, "published")

    def _run(self, request: HttpRequest, queryset: Any, service: Any, done: str) -> None:
        for review in queryset:
            try:
                service(review=review, actor=request.user)
            except ApplicationError as exc:
                details = "; ".join(m for ms in exc.fields.values() for m in ms)
                self.message_user(
                    request,
                    f"{review}: {exc.message} {details}".strip(),
                    messages.ERROR,
                )
            else:
                self.message_user(request, f"{review} {done}.", messages.SUCCESS)

    # --- analytics ------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "analytics/",
                self.admin_site.admin_view(self.analytics_view),
                name="postmortems_analytics",
            ),
            path(
                "analytics/<slug:chart>.csv",
                self.admin_site.admin_view(self.analytics_csv_view),
                name="postmortems_analytics_csv",
            ),
            *super().get_urls(),
        ]

    def _months(self, request: HttpRequest) -> int:
        try:
            months = int(request.GET.get("months", 12))
        except ValueError:
            months = 12
        return min(max(months, 1), analytics.MAX_MONTHS)

    def analytics_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        months = self._months(request)
        data = analytics.analytics(months=months)
        charts = []
        for key, (title, unit) in analytics.CHARTS.items():
            svg = analytics.bar_chart_svg(
                title=title,
                unit=unit,
                months=data["months"],
                series=analytics.chart_series(key, data),
            )
            charts.append(
                {
                    "key": key,
                    "title": title,
                    "svg": mark_safe(svg),  # noqa: S308 - every label is escaped
                    "csv_url": reverse("admin:postmortems_analytics_csv", args=[key])
                    + f"?months={months}",
                    "empty": not data[key],
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Incident analytics",
            "charts": charts,
            "months": months,
        }
        return TemplateResponse(request, "admin/postmortems/analytics.html", context)

    def analytics_csv_view(self, request: HttpRequest, chart: str) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if chart not in analytics.CHARTS:
            raise Http404(f"There is no chart {chart!r}.")
        data = analytics.analytics(months=self._months(request))
        return _csv_response(analytics.chart_csv(data[chart]), f"{chart}.csv")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        link = format_html(
            '<a href="{}">Incident analytics</a>', reverse("admin:postmortems_analytics")
        )
        return super().changelist_view(request, {"analytics_link": link, **(extra_context or {})})
