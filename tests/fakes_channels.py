"""Put a channel instance pointed at a local fake in the channel registry for one test.

Channels are registered at start-up from `CLARION_CHANNELS`; a test swaps in its own
instance (or adds it when the settings do not list the channel) and puts back whatever was
there afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from apps.communications.channels.base import Channel, channels


@contextmanager
def channel_registered(channel: Channel) -> Iterator[Channel]:
    previous = channels._items.get(channel.key)
    channels.unregister(channel.key)
    channels.register(channel.key, channel)
    try:
        yield channel
    finally:
        channels.unregister(channel.key)
        if previous is not None:
            channels.register(channel.key, previous)
