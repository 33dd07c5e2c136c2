from apps.integrations.choices import Source
from apps.integrations.inbound.base import InboundSource
from apps.integrations.inbound.grafana import parse, verify

source = InboundSource(
    key=Source.GRAFANA.value,
    label=Source.GRAFANA.label,
    verify=verify.verify,
    split=parse.split,
    parse=parse.parse,
    stored_headers=("User-Agent",),
)
