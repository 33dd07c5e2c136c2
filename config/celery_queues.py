"""Celery queues, split so that a slow provider cannot starve the others."""

from kombu import Exchange, Queue

QUEUE_NAMES = (
    "default",
    "fanout",
    "send.email",
    "send.sms",
    "send.webhook",
    "integrations",
    "retry",
)
# One direct exchange per queue with its own routing key: a message reaches one queue only.
CELERY_QUEUES = tuple(
    Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUE_NAMES
)
# Task name pattern -> queue. Tasks not matched go to `default`.
CELERY_TASK_ROUTES = {
    "communications.fanout_*": {"queue": "fanout"},
    "communications.send_email*": {"queue": "send.email"},
    "communications.send_sms*": {"queue": "send.sms"},
    "communications.send_webhook*": {"queue": "send.webhook"},
    "integrations.*": {"queue": "integrations"},
}
