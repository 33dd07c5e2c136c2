from apps.integrations.choices import Source
from apps.integrations.inbound.base import InboundSource
from apps.integrations.inbound.datadog import parse, verify

source = InboundSource(
    key=Source.DATADOG.value,
    label=Source.DATADOG.label,
    verify=verify.verify,
    split=parse.split,
    parse=parse.parse,
    stored_headers=("User-Agent",),
)
