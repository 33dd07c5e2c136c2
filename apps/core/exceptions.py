"""Errors that Clarion's services raise, each with a message a person can act on.

The API turns them into `{"error": {"code", "message", "fields"}}` with the class's status;
the admin shows the message; management commands print it.
"""

from __future__ import annotations


class ApplicationError(Exception):
    """A use-case refused: the input or the state does not allow it."""

    code = "invalid"
    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, list[str]] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class ValidationFailed(ApplicationError):
    """Input that cannot be accepted as given; `fields` says which field and why."""


class NotFound(ApplicationError):
    code = "not_found"
    status_code = 404


class Conflict(ApplicationError):
    """The object is in a state that does not allow the move (a state machine refusal)."""

    code = "conflict"
    status_code = 409


class Forbidden(ApplicationError):
    code = "forbidden"
    status_code = 403


class IntegrationError(Exception):
    """A call to an outside provider failed."""


class TransientError(IntegrationError):
    """Worth retrying later: a timeout, a 429, a 5xx, a 4xx SMTP answer."""


class PermanentError(IntegrationError):
    """Retrying will not help: bad credentials, an invalid address, a 4xx answer."""
