"""The status page as a channel: confirms that the update is on the tenant's public page.

Posting a public incident update already puts it on the status page (the page renders the
incident's public timeline, and the `update.posted` event bumps the page's render version),
and a maintenance window is shown from the window itself. So this channel does not write
the page a second time, which would show the update twice; it checks that what the message
is about is public (confirmed customer impact, no parent; a maintenance window not
cancelled), bumps the render version so that every cached copy (pages, JSON, banners) is
rebuilt, and records one delivery whose provider id is the public URL. A message about
something the page does not show fails with that reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from redis import RedisError

from apps.communications.channels.base import Capabilities, Outgoing, SendResult
from apps.communications.channels.broadcast import BroadcastChannel
from apps.communications.choices import AttemptOutcome
from apps.core.tenancy import current_schema
from apps.incidents.models import IncidentUpdate
from apps.statuspage import selectors, store

TARGET = "page"


def _check(item: Outgoing) -> str:
    """Why the page does not show the subject of `item`; empty = it does."""
    incident, update = item.parts.get("incident"), item.parts.get("update")
    if incident:
        if not selectors.public_incidents().filter(pk=int(incident)).exists():
            return (
                f"Incident #{incident} is not on the status page (customer impact not "
                "confirmed, or it is attached to a parent)."
            )
        row = IncidentUpdate.objects.filter(pk=int(update)).first() if update else None
        if update and (row is None or not row.is_public):
            return f"Update #{update} of incident #{incident} has no public text."
        return ""
    maintenance = item.parts.get("maintenance")
    if maintenance and selectors.public_maintenances().filter(pk=int(maintenance)).exists():
        return ""
    return f"Maintenance #{maintenance or '?'} is not on the status page (cancelled or gone)."


class StatusPageChannel(BroadcastChannel):
    key = "status_page"
    capabilities = Capabilities()
    parts = ("text",)

    def targets(self) -> list[str]:
        return [TARGET]

    def send(self, batch: Sequence[Outgoing]) -> Iterator[SendResult]:
        """One result per item, yielded as soon as it is known (see base)."""
        for item in batch:
            problem = _check(item)
            if problem:
                yield SendResult(item.delivery_id, AttemptOutcome.PERMANENT, error=problem)
                continue
            try:
                store.version_bump(current_schema())
            except RedisError as exc:  # the cache is down: try again later
                error = f"cannot refresh the page cache: {exc}"[:500]
                yield SendResult(item.delivery_id, AttemptOutcome.TRANSIENT, error=error)
                continue
            url = item.parts.get("url", "")
            yield SendResult(item.delivery_id, AttemptOutcome.SENT, provider_id=url)
