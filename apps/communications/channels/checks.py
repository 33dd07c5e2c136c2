"""What each channel says about a message's rendering: errors and warnings.

Every channel's `validate()` runs on the message's preview (the rendering saved at draft).
A channel with a hard length limit (`capabilities.max_length`: a social post's 280
characters) makes its problems errors: the message cannot be approved until the template
or the text is shortened, and the error names the channel. Other channels' problems are
warnings that the admin's message page and `GET /api/v1/messages/{id}/` show from the draft
on, e.g. an SMS text that takes two segments: it is delivered, as several billed segments,
so an approver may accept it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.communications.channels.base import channels
from apps.communications.models import Message


@dataclass(frozen=True)
class ChannelProblems:
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)


def channel_problems(message: Message) -> ChannelProblems:
    problems = ChannelProblems()
    for channel in message.channels:
        implementation = channels._items.get(channel)
        rendered = (message.rendered or {}).get(channel)
        if implementation is None or not rendered:
            continue
        found = implementation.validate(rendered)
        if not found:
            continue
        bucket = problems.errors if implementation.capabilities.max_length else problems.warnings
        bucket[channel] = found
    return problems
