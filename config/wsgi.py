import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

django_application = get_wsgi_application()

from apps.statuspage.fastpath import StatusPageFastPath  # noqa: E402  (needs Django set up)

application = StatusPageFastPath(django_application)
