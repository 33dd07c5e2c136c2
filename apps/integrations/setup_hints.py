"""One line per source saying where its secret goes (the management command and the admin
print it next to the token and secret; the README has the full steps)."""

from apps.integrations.choices import Source

SECRET_HINTS = {
    Source.ALERTMANAGER: "In the webhook receiver: http_config.authorization "
    "{type: Bearer, credentials: <secret>}.",
    Source.GRAFANA: "In the webhook contact point: Authorization Header, scheme Bearer, "
    "credentials <secret>.",
    Source.PAGERDUTY: "PagerDuty generates the signing secret when you create the webhook "
    "subscription: paste it into Clarion (admin, or integration_create --secret).",
    Source.SENTRY: "Sentry shows the Client Secret of your internal integration: paste it into "
    "Clarion (admin, or integration_create --secret).",
    Source.DATADOG: 'In the webhook\'s Custom Headers: {"X-Clarion-Secret": "<secret>"}; use '
    "the payload template from the Datadog README.",
    Source.NEWRELIC: "In the webhook destination: a custom header X-Clarion-Secret: <secret>.",
    Source.GENERIC: "Sign each request per the Standard Webhooks spec with this whsec_ secret.",
}
