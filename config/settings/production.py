"""Production: every secret and URL from the environment, HTTPS everywhere. Start-up stops,
naming the variable, when something a real installation cannot do without is missing: the
e-mail server (else every notification would be printed to the console and counted sent)
and the sender address."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import DEBUG, _bool, _int, env

if DEBUG:
    raise ImproperlyConfigured("DEBUG must be false in production: unset DEBUG or set it false.")
if not env.str("EMAIL_URL", default="").strip():
    raise ImproperlyConfigured(
        "EMAIL_URL is not set: give the SMTP server or e-mail provider subscribers' mail goes "
        "through, e.g. smtp+tls://user:password@smtp.example.com:587 (see README, "
        "Configuration). Without it every notification would only be printed."
    )
if not env.str("DEFAULT_FROM_EMAIL", default="").strip():
    raise ImproperlyConfigured(
        'DEFAULT_FROM_EMAIL is not set: the sender of notifications, e.g. "Acme Status '
        '<status@acme.example>", on a domain your e-mail provider may send for.'
    )

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
