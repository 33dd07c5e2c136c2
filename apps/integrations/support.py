"""What support coordination does when the other apps announce something (subscribed in
IntegrationsConfig.ready()). Handlers only queue tasks with ids.

The cadence engine (apps.communications.cadence) announces reminders and overdue updates
with `incident.update_reminder` and `incident.update_overdue` (`incident_id`, `due`: the due
time, ISO 8601); they are posted to the incident's war room.

Alert processing listens too: when a maintenance window is completed, the alerts still
firing under it are processed again as new firings (`integrations.release_maintenance_alerts`).
"""

from __future__ import annotations

from apps.communications.cadence import UPDATE_OVERDUE, UPDATE_REMINDER
from apps.core.events import DomainEvent, subscribe
from apps.incidents import events
from apps.integrations import tasks, tasks_support
from apps.integrations.services import support_chat

MESSAGE_PUBLISHED = "message.published"  # message_id, incident_id, kind


def on_message_published(event: DomainEvent) -> None:
    incident_id = event.data.get("incident_id")
    if not incident_id:
        return  # maintenance messages: no help-desk work
    tasks_support.helpdesk_flag.delay(incident_id)
    tasks_support.support_chat_notify.delay(support_chat.PUBLISHED, incident_id)


def on_opened(event: DomainEvent) -> None:
    tasks_support.support_chat_notify.delay(support_chat.OPENED, event.data["incident_id"])


def on_update_posted(event: DomainEvent) -> None:
    tasks_support.support_chat_notify.delay(
        support_chat.UPDATED, event.data["incident_id"], event.data.get("update_id")
    )


def on_resolved(event: DomainEvent) -> None:
    incident_id = event.data["incident_id"]
    tasks_support.helpdesk_close.delay(incident_id)
    tasks_support.support_chat_notify.delay(support_chat.RESOLVED, incident_id)


def on_false_alarm(event: DomainEvent) -> None:
    # Closed like a resolve, with the false-alarm notice (services.helpdesk.resolution_text).
    tasks_support.helpdesk_close.delay(event.data["incident_id"])


def on_reopened(event: DomainEvent) -> None:
    # helpdesk_flag reopens the known-issue ticket of a reopened incident and flags again.
    tasks_support.helpdesk_flag.delay(event.data["incident_id"])


def on_reminder(event: DomainEvent) -> None:
    kind = support_chat.REMINDER if event.name == UPDATE_REMINDER else support_chat.OVERDUE
    tasks_support.support_chat_notify.delay(
        kind, event.data["incident_id"], None, str(event.data.get("due", ""))
    )


def on_maintenance_completed(event: DomainEvent) -> None:
    tasks.release_maintenance_alerts.delay(event.data["window_id"])


def connect() -> None:
    subscribe(MESSAGE_PUBLISHED, on_message_published)
    subscribe(events.INCIDENT_OPENED, on_opened)
    subscribe(events.INCIDENT_SEVERITY_CHANGED, on_opened)
    subscribe(events.UPDATE_POSTED, on_update_posted)
    subscribe(events.INCIDENT_RESOLVED, on_resolved)
    subscribe(events.INCIDENT_FALSE_ALARM, on_false_alarm)
    subscribe(events.INCIDENT_REOPENED, on_reopened)
    subscribe(UPDATE_REMINDER, on_reminder)
    subscribe(UPDATE_OVERDUE, on_reminder)
    subscribe(events.MAINTENANCE_COMPLETED, on_maintenance_completed)
