"""Admin forms that save through a use-case, shared by the apps' admins.

A `ServiceModelForm` keeps the admin's usual pages (list, change form, history) but saves
through one service call: while the form validates, `run_service` calls it inside a
savepoint, so a refusal (an ApplicationError) is shown next to the field it names and
nothing is written; on success the saved object is the form's instance. `ServiceFormAdmin`
gives the form the signed-in user as the actor and lets the form's call be the save.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.db import models, transaction
from django.http import HttpRequest

from apps.core.audit import Actor
from apps.core.exceptions import ApplicationError


def show_error(
    form: forms.BaseForm, exc: ApplicationError, renamed: Mapping[str, str] | None = None
) -> None:
    """The service's refusal on the form: its message on top, each field's reason next to
    the field (`renamed` maps the service's name of a field to the form's), or on top,
    named, if the form has no such field."""
    form.add_error(None, exc.message)
    for field, reasons in exc.fields.items():
        name = (renamed or {}).get(field, field)
        for reason in reasons:
            if name in form.fields:
                form.add_error(name, reason)
            else:
                form.add_error(None, f"{field.replace('_', ' ').capitalize()}: {reason}")


class ServiceModelForm(forms.ModelForm):  # type: ignore[type-arg]
    """A model form whose save is one service call (see the module docstring)."""

    actor: Actor = None  # set per request by the admin
    # The service's field names that the form calls otherwise (e.g. a write-only secret).
    renamed: ClassVar[dict[str, str]] = {}
    # Build the instance from the form and run the model's own checks before the service
    # (for a service that takes the instance); otherwise the service validates everything.
    validate_model: ClassVar[bool] = False

    def run_service(self) -> models.Model:
        raise NotImplementedError

    def _post_clean(self) -> None:
        if self.validate_model:
            super()._post_clean()  # type: ignore[misc]
        # Without it the model's checks (full_clean, unique checks) are the service's job;
        # running both would also find the row the service has just written.
        if self.errors:
            return
        try:
            with transaction.atomic():
                self.instance = self.run_service()
        except ApplicationError as exc:
            show_error(self, exc, self.renamed)

    def save(self, commit: bool = True) -> Any:
        return self.instance

    def save_m2m(self) -> None:
        """The service saved the relations too."""


class ServiceFormAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Saves through the form's service call (its form is a ServiceModelForm)."""

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        assert issubclass(form, ServiceModelForm)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """The form's service call saved it."""
