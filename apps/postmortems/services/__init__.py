"""Write use-cases of SLA credits and post-incident reviews."""

from apps.postmortems.services.credits import (
    credit_set_state,
    credits_approve,
    credits_compute,
    credits_push_again,
    overrun_credits_compute,
)
from apps.postmortems.services.reviews import (
    reminders_send,
    review_complete,
    review_create_for,
    review_publish,
    timeline_build,
)

__all__ = [
    "credit_set_state",
    "credits_approve",
    "credits_compute",
    "credits_push_again",
    "overrun_credits_compute",
    "reminders_send",
    "review_complete",
    "review_create_for",
    "review_publish",
    "timeline_build",
]
