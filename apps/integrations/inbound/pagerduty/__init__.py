from apps.integrations.choices import Source
from apps.integrations.inbound.base import InboundSource
from apps.integrations.inbound.pagerduty import parse, verify

source = InboundSource(
    key=Source.PAGERDUTY.value,
    label=Source.PAGERDUTY.label,
    verify=verify.verify,
    split=parse.split,
    parse=parse.parse,
    stored_headers=("X-Webhook-Id", "X-Webhook-Subscription", "User-Agent"),
)
