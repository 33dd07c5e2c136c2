"""Names of the events the incidents services emit (see apps.core.events). Each carries
`incident_id` (or `window_id`), plus what its name says."""

INCIDENT_OPENED = "incident.opened"  # confirmed: bool
INCIDENT_IMPACT_CONFIRMED = "incident.impact_confirmed"
INCIDENT_SEVERITY_CHANGED = "incident.severity_changed"  # old, new
INCIDENT_ATTACHED = "incident.attached"  # parent_id
INCIDENT_DETACHED = "incident.detached"  # parent_id (the one it left)
INCIDENT_RESOLVED = "incident.resolved"  # update_id
INCIDENT_REOPENED = "incident.reopened"
INCIDENT_FALSE_ALARM = "incident.false_alarm"  # was_public: bool
INCIDENT_CHANGED = "incident.changed"  # fields: list[str]
UPDATE_POSTED = "update.posted"  # update_id, deliver_notifications
MAINTENANCE_SCHEDULED = "maintenance.scheduled"
MAINTENANCE_STARTED = "maintenance.started"
MAINTENANCE_EXTENDED = "maintenance.extended"  # old_end
MAINTENANCE_RESCHEDULED = "maintenance.rescheduled"  # previous_start, previous_end
MAINTENANCE_UPDATED = "maintenance.updated"  # update_id
MAINTENANCE_COMPLETED = "maintenance.completed"
MAINTENANCE_CANCELLED = "maintenance.cancelled"  # reason (public)
