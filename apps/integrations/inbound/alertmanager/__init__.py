from apps.integrations.choices import Source
from apps.integrations.inbound.alertmanager import parse, verify
from apps.integrations.inbound.base import InboundSource

source = InboundSource(
    key=Source.ALERTMANAGER.value,
    label=Source.ALERTMANAGER.label,
    verify=verify.verify,
    split=parse.split,
    parse=parse.parse,
    stored_headers=("User-Agent",),
)
