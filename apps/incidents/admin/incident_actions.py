"""The incident page's actions: each a form and one service call, with the person as the
actor; `run` returns what the person is told on success."""

from __future__ import annotations

from django.http import HttpRequest

from apps.incidents import services
from apps.incidents.admin.common import ObjectAction
from apps.incidents.forms import (
    AssessForm,
    AttachParentForm,
    ChangeSeverityForm,
    ConfirmImpactForm,
    DetachForm,
    FalseAlarmForm,
    IncidentEditForm,
    PostUpdateForm,
    ReopenForm,
    ResolveForm,
)
from apps.incidents.models import Incident


def _post_update(request: HttpRequest, incident: Incident, form: PostUpdateForm) -> str:
    data = form.cleaned_data
    update = services.incident_post_update(
        incident=incident,
        body=data["body"],
        internal_note=data["internal_note"],
        status=form.status_value(),
        eta=form.eta_value(),
        next_update_at=data["next_update_at"],
        component_changes=form.component_changes(),
        deliver_notifications=data["deliver_notifications"],
        actor=request.user,
    )
    kind = "public update" if update.is_public else "internal note"
    return f"The {kind} is posted on incident #{incident.pk}."


def _assess(request: HttpRequest, incident: Incident, form: AssessForm) -> str:
    services.incident_assess(
        incident=incident,
        hypothesis=form.cleaned_data["hypothesis"],
        eta=form.eta_value(),
        impact_scope_pct=form.cleaned_data["impact_scope_pct"],
        actor=request.user,
    )
    return f"The assessment of incident #{incident.pk} is recorded."


def _confirm(request: HttpRequest, incident: Incident, form: ConfirmImpactForm) -> str:
    services.incident_confirm_impact(incident=incident, actor=request.user)
    return f"Customer impact confirmed: incident #{incident.pk} is public and its cadence runs."


def _severity(request: HttpRequest, incident: Incident, form: ChangeSeverityForm) -> str:
    changed = services.incident_change_severity(
        incident=incident,
        severity=form.cleaned_data["severity"],
        reason=form.cleaned_data["reason"],
        actor=request.user,
    )
    return f"Incident #{incident.pk} is now {changed.get_severity_display()}."


def _resolve(request: HttpRequest, incident: Incident, form: ResolveForm) -> str:
    data = form.cleaned_data
    services.incident_resolve(
        incident=incident,
        body=data["body"],
        what_was_affected=data["what_was_affected"],
        root_cause=data["root_cause"],
        what_we_fixed=data["what_we_fixed"],
        prevention=data["prevention"],
        actor=request.user,
    )
    return f"Incident #{incident.pk} is resolved."


def _false_alarm(request: HttpRequest, incident: Incident, form: FalseAlarmForm) -> str:
    services.incident_mark_false_alarm(
        incident=incident, note=form.cleaned_data["note"], actor=request.user
    )
    return f"Incident #{incident.pk} is closed as a false alarm."


def _attach(request: HttpRequest, incident: Incident, form: AttachParentForm) -> str:
    parent = form.cleaned_data["parent"]
    services.incident_attach_child(child=incident, parent=parent, actor=request.user)
    return f"Incident #{incident.pk} is attached to #{parent.pk}."


def _detach(request: HttpRequest, incident: Incident, form: DetachForm) -> str:
    parent_id = incident.parent_id
    services.incident_detach_child(
        child=incident, reason=form.cleaned_data["reason"], actor=request.user
    )
    return f"Incident #{incident.pk} is detached from #{parent_id}."


def _reopen(request: HttpRequest, incident: Incident, form: ReopenForm) -> str:
    services.incident_reopen(
        incident=incident, reason=form.cleaned_data["reason"], actor=request.user
    )
    return f"Incident #{incident.pk} is reopened."


def _edit(request: HttpRequest, incident: Incident, form: IncidentEditForm) -> str:
    data = form.cleaned_data
    services.incident_edit(
        incident=incident,
        title=data["title"],
        internal_title=data["internal_title"],
        impact_scope_pct=data["impact_scope_pct"],
        regions=form.region_codes(),
        commander=data["commander"],
        actor=request.user,
    )
    return f"The details of incident #{incident.pk} are saved."


def _open(incident: Incident) -> bool:
    return incident.is_open


INCIDENT_ACTIONS: tuple[ObjectAction[Incident], ...] = (
    ObjectAction("post-update", "Post update", PostUpdateForm, _post_update, _open),
    ObjectAction("assess", "Assess", AssessForm, _assess, _open),
    ObjectAction(
        "confirm-impact",
        "Confirm customer impact",
        ConfirmImpactForm,
        _confirm,
        lambda i: i.is_open and not i.customer_impact_confirmed,
    ),
    ObjectAction("change-severity", "Change severity", ChangeSeverityForm, _severity, _open),
    ObjectAction(
        "attach",
        "Attach to parent",
        AttachParentForm,
        _attach,
        lambda i: i.is_open and i.parent_id is None,
    ),
    ObjectAction(
        "detach",
        "Detach from parent",
        DetachForm,
        _detach,
        lambda i: i.is_open and i.parent_id is not None,
    ),
    ObjectAction("edit", "Edit details", IncidentEditForm, _edit),
    ObjectAction("resolve", "Resolve", ResolveForm, _resolve, _open),
    ObjectAction("false-alarm", "Mark false alarm", FalseAlarmForm, _false_alarm, _open),
    ObjectAction(
        "reopen", "Reopen", ReopenForm, _reopen, lambda i: not i.is_open and not i.false_alarm
    ),
)
