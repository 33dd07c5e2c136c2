from apps.integrations.choices import Source
from apps.integrations.inbound.base import InboundSource
from apps.integrations.inbound.sentry import parse, verify

source = InboundSource(
    key=Source.SENTRY.value,
    label=Source.SENTRY.label,
    verify=verify.verify,
    split=parse.split,
    parse=parse.parse,
    stored_headers=("Sentry-Hook-Resource", "Request-ID", "Sentry-Hook-Timestamp"),
)
