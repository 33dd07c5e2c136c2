"""The test suite: its own embedded servers (under .clarion/test), fast hashing, e-mail kept
in memory."""

import os

os.environ.setdefault("SECRET_KEY", "clarion-tests-only-not-secret")
os.environ.setdefault("DEBUG", "false")

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_TENANT_CACHE_SECONDS = 0
