"""Local development (`make run`): DEBUG on, a fixed development secret."""

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("SECRET_KEY", "clarion-development-only-not-secret")

from config.settings.base import *  # noqa: F403
