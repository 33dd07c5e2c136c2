"""What Clarion asks of a help desk, whichever the tenant picked (Zendesk or Freshdesk).

A provider speaks the vendor's API and hands back `Ticket` and `Comment` records; it does not
decide which tickets are about an incident (`apps.integrations.services.helpdesk` does, with
`ticket_matches`). Every method raises `TransientError` (timeouts, 5xx, a 429 whose
`Retry-After` is longer than the provider waits inline: see `RateLimited`) or
`PermanentError` (refused credentials, a ticket that does not exist).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from apps.core.exceptions import TransientError

# A 429 asking to wait at most this long is waited out inside the call; a longer one is
# raised as RateLimited and the task retries after `retry_after` seconds.
INLINE_WAIT_MAX_SECONDS = 10


class RateLimited(TransientError):
    """The help desk answered 429; try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, default: int = 60) -> int:
    """A `Retry-After` header in seconds (at least 1)."""
    try:
        return max(1, int(float(value or "")))
    except ValueError:
        return default


@dataclass(frozen=True)
class Ticket:
    id: str
    subject: str
    description: str
    status: str  # the vendor's word: new, open, pending, solved (Zendesk) / 2, 3, 4 (Freshdesk)
    created_at: datetime | None
    requester_id: str = ""
    organization: str = ""  # the requester organisation's name ("" if none)
    tags: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)  # form field id -> value
    problem_id: str = ""  # the problem/tracker it is linked to
    is_open: bool = True


@dataclass(frozen=True)
class Comment:
    author_id: str
    public: bool
    created_at: datetime | None
    body: str = ""


@dataclass(frozen=True)
class MatchRules:
    """Which tickets are about an incident: any of the `words` (whole words, in the subject
    or description), an `organisations` name (case-insensitive) or a form field's value
    among `fields[id]`."""

    words: frozenset[str] = frozenset()
    organisations: frozenset[str] = frozenset()
    fields: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.words or self.organisations or self.fields)


_WORD = re.compile(r"[\w-]+")
# Words of an incident title too common to say anything about a ticket.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "our",
        "some",
        "the",
        "to",
        "with",
        "we",
        "you",
        "your",
        "errors",
        "error",
        "issue",
        "issues",
        "problem",
        "problems",
        "slow",
        "down",
        "not",
        "working",
    ]
)


def words_of(texts: Iterable[str]) -> frozenset[str]:
    """The significant lower-case words of `texts` (stop words and 1-2 letter words out)."""
    found: set[str] = set()
    for text in texts:
        found.update(w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in STOP_WORDS)
    return frozenset(found)


def ticket_matches(ticket: Ticket, rules: MatchRules) -> bool:
    if rules.words and rules.words & frozenset(
        _WORD.findall(f"{ticket.subject}\n{ticket.description}".lower())
    ):
        return True
    if ticket.organization and ticket.organization.strip().lower() in rules.organisations:
        return True
    return any(
        str(ticket.fields.get(key, "")).strip().lower() in values
        for key, values in rules.fields.items()
    )


class Helpdesk(ABC):
    """One tenant's help desk. Ticket ids are strings whatever the vendor uses."""

    label: str  # "Zendesk"

    @abstractmethod
    def create_problem(self, *, subject: str, description: str, tags: Sequence[str]) -> str:
        """Open the incident's known-issue ticket (internal subject, public description);
        its id."""

    @abstractmethod
    def open_tickets_since(self, since: datetime) -> Iterator[Ticket]:
        """Unsolved tickets created at or after `since`, every page."""

    @abstractmethod
    def ticket(self, ticket_id: str) -> Ticket: ...

    @abstractmethod
    def link(self, *, ticket_id: str, problem_id: str, tags: Sequence[str], note: str) -> None:
        """Make the ticket an incident of the problem, add `tags` and an internal `note`."""

    @abstractmethod
    def reply(self, *, ticket_id: str, body: str) -> None:
        """A public reply to the requester."""

    @abstractmethod
    def comments(self, ticket_id: str) -> list[Comment]: ...

    @abstractmethod
    def detach(self, *, ticket_id: str, note: str) -> None:
        """Unlink the ticket from its problem (so that solving the problem leaves it open),
        with an internal `note` saying why."""

    @abstractmethod
    def resolve_problem(self, *, problem_id: str, comment: str, solve: bool) -> None:
        """Post the resolution as a public comment on the problem; solve it if `solve`."""

    @abstractmethod
    def reopen_problem(self, *, problem_id: str, note: str) -> None:
        """The incident is back: the problem open again, with an internal `note`."""

    @abstractmethod
    def solve(self, *, ticket_id: str, comment: str) -> None:
        """Solve one ticket with a public comment."""

    @abstractmethod
    def close(self) -> None:
        """Release the HTTP connections."""
