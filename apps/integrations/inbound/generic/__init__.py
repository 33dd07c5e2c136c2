from apps.integrations.choices import Source
from apps.integrations.inbound.base import InboundSource
from apps.integrations.inbound.generic import parse, verify

source = InboundSource(
    key=Source.GENERIC.value,
    label=Source.GENERIC.label,
    verify=verify.verify,
    split=parse.split,
    parse=parse.parse,
    stored_headers=("webhook-id", "webhook-timestamp"),
)
