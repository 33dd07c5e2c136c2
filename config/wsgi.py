"""Clarion's WSGI application: Django, with two fast paths in front that answer the
traffic that arrives all at once during an outage without running the middleware stack:
cached status pages (apps.statuspage.fastpath) and monitoring hooks
(apps.integrations.fastpath). Everything else goes to Django unchanged."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

django_application = get_wsgi_application()

# These import models, so they come after Django is set up.
from apps.integrations.fastpath import HooksFastPath  # noqa: E402
from apps.statuspage.fastpath import StatusPageFastPath  # noqa: E402

application = HooksFastPath(StatusPageFastPath(django_application))


def _load_lazily_loaded_modules() -> None:
    """Import every view (through the URL confs) now rather than at a first request."""
    from django.conf import settings
    from django.urls import get_resolver

    for urlconf in {settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF}:
        get_resolver(urlconf).url_patterns  # noqa: B018


_load_lazily_loaded_modules()
# What is loaded by now (Django, the apps, their modules: ~150,000 objects) lives as long as
# the process. Frozen, the collector's full passes skip it; otherwise each of them stalls
# every thread of a busy process for ~100 ms, the slowest of its requests.
gc.freeze()
