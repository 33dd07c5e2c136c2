"""What the portal's pages share: UTC times, humanised durations, clock cells, and the
small action pages (one form, one service call) of incidents and maintenance windows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst

from apps.core.exceptions import ApplicationError
from apps.incidents.forms import ObjectForm, PortalForm
from apps.incidents.services.common import humanise

M = TypeVar("M", bound=models.Model)

FORM_PAGE_TEMPLATE = "admin/incidents/form_page.html"


def utc(value: datetime | None, empty: str = "—") -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if value else empty


def clock(due: datetime | None, *, overdue: bool, now: datetime) -> SafeString | str:
    """A due time with how far off it is; overdue in red *and* said in words."""
    if due is None:
        return "—"
    if overdue:
        return format_html(
            '<span class="clarion-overdue">overdue {}</span><br>'
            '<small class="clarion-when">was due {}</small>',
            humanise(now - due),
            utc(due),
        )
    return format_html(
        '<span class="clarion-due">in {}</span><br><small class="clarion-when">{}</small>',
        humanise(due - now),
        utc(due),
    )


def _always(obj: Any) -> bool:
    return True


@dataclass(frozen=True)
class ObjectAction(Generic[M]):
    """A button on an object's page leading to a small form whose `run` calls one service
    and returns the message shown on success."""

    slug: str
    label: str
    form: type[ObjectForm]
    run: Callable[[HttpRequest, M, Any], str]
    shown: Callable[[M], bool] = _always


class ActionPageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A read-only object page whose every change is an action (a form and a service call).

    Acting needs the change permission; with the view permission alone the page shows no
    buttons and the action URLs answer 403."""

    object_actions: tuple[ObjectAction[Any], ...] = ()

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:object_id>/actions/<slug:action>/",
                self.admin_site.admin_view(self.action_view),
                name="{}_{}_action".format(*info),
            ),
            *super().get_urls(),
        ]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # No service deletes them; history stays.
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [
            name for _, options in self.get_fieldsets(request, obj) for name in options["fields"]
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        title = capfirst(str(self.opts.verbose_name_plural))
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST":  # the page is read-only; changes go through actions
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None:
            context.update(
                title=capfirst(str(self.opts.verbose_name)),
                show_save=False,
                show_save_and_continue=False,
                show_save_and_add_another=False,
                action_buttons=self.action_buttons(request, obj),
                audit_url=self.audit_url(request, obj),
                **self.page_context(request, obj),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def page_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """What the object's page shows besides its fields."""
        return {}

    def action_buttons(self, request: HttpRequest, obj: Any) -> list[dict[str, str]]:
        if not self.has_change_permission(request, obj):
            return []
        return [
            {"label": action.label, "url": self.action_url(obj, action.slug)}
            for action in self.object_actions
            if action.shown(obj)
        ]

    def action_url(self, obj: Any, slug: str) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_action",
            args=[obj.pk, slug],
            current_app=self.admin_site.name,
        )

    def change_url(self, obj: Any) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[obj.pk],
            current_app=self.admin_site.name,
        )

    def changelist_url(self) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
            current_app=self.admin_site.name,
        )

    def audit_url(self, request: HttpRequest, obj: Any) -> str:
        if not request.user.has_perm("core.view_auditevent"):
            return ""
        return (
            reverse("admin:core_auditevent_changelist", current_app=self.admin_site.name)
            + f"?object_type={self.opts.label_lower}&object_id={obj.pk}"
        )

    def action_view(self, request: HttpRequest, object_id: int, action: str) -> HttpResponse:
        spec = next((a for a in self.object_actions if a.slug == action), None)
        obj = self.get_object(request, str(object_id))
        if spec is None or obj is None:
            raise Http404("No such action or object.")
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        form = spec.form(submitted(request), obj=obj)
        if form.is_bound and form.is_valid():
            try:
                done = spec.run(request, obj, form)
            except ApplicationError as exc:
                form.show_error(exc)
            else:
                messages.success(request, done)
                return redirect(self.change_url(obj))
        return self.render_form_page(
            request,
            form=form,
            title=f"{spec.label}: {obj}",
            submit_label=spec.label,
            obj=obj,
            intro=form.intro,
        )

    def render_form_page(
        self,
        request: HttpRequest,
        *,
        form: PortalForm,
        title: str,
        submit_label: str,
        obj: Any = None,
        intro: str = "",
        template: str = FORM_PAGE_TEMPLATE,
        extra: dict[str, Any] | None = None,
    ) -> TemplateResponse:
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "original": obj,
            "intro": intro,
            "form": form,
            # AdminForm lays out any form; the stubs say ModelForm only.
            "adminform": helpers.AdminForm(
                form,  # type: ignore[arg-type]
                form.admin_fieldsets(),
                {},
                model_admin=self,
            ),
            "submit_label": submit_label,
            "cancel_url": self.change_url(obj) if obj is not None else self.changelist_url(),
            "has_view_permission": self.has_view_permission(request, obj),
            **(extra or {}),
        }
        return TemplateResponse(request, template, context)


def submitted(request: HttpRequest) -> Any:
    """The POSTed data, or None on GET (a POST may be empty: a form without fields)."""
    return request.POST if request.method == "POST" else None
