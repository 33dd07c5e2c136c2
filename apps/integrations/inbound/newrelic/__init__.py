from apps.integrations.choices import Source
from apps.integrations.inbound.base import InboundSource
from apps.integrations.inbound.newrelic import parse, verify

source = InboundSource(
    key=Source.NEWRELIC.value,
    label=Source.NEWRELIC.label,
    verify=verify.verify,
    split=parse.split,
    parse=parse.parse,
    stored_headers=("User-Agent",),
)
