"""The Celery app. Tasks carry the tenant's schema in their headers (tenant-schemas-celery)
and run in it; beat's schedule lives in the public schema (django-celery-beat).

    celery -A config worker -Q default,fanout,send.email,send.sms,send.webhook,integrations,retry
    celery -A config beat
"""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = CeleryApp("clarion")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
