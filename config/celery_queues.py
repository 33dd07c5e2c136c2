"""Celery queues, split so that a slow provider cannot starve the others."""

from kombu import Queue

QUEUE_NAMES = (
    "default",
    "fanout",
    "send.email",
    "send.sms",
    "send.webhook",
    "integrations",
    "retry",
)
CELERY_QUEUES = tuple(Queue(name) for name in QUEUE_NAMES)
# Task name prefix -> queue. Tasks not matched go to `default`.
CELERY_TASK_ROUTES = {
    "communications.fanout_*": {"queue": "fanout"},
    "communications.send_email*": {"queue": "send.email"},
    "communications.send_sms*": {"queue": "send.sms"},
    "communications.send_webhook*": {"queue": "send.webhook"},
    "integrations.*": {"queue": "integrations"},
}
