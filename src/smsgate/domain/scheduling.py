"""Scheduled messages: the window Twilio accepts for ``SendAt``.

Twilio schedules a message (``ScheduleType=fixed`` + ``SendAt``, with a Messaging Service)
between 15 minutes and 35 days ahead. Its error pages for 35114/35115 now say 300 seconds,
older text and the 35111 page say 15 minutes: the minimum is a setting, 900 by default.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from smsgate.errors import ValidationError

DEFAULT_MIN_LEAD = 900.0  # seconds
MAX_LEAD = 35 * 24 * 3600  # 3,024,000 seconds


def check_send_at(
    send_at: datetime | None, now: datetime, *, min_lead: float, max_lead: float = MAX_LEAD
) -> datetime:
    """``send_at`` when it lies in the window; Twilio's 35111/35114/35115 otherwise."""
    if send_at is None:
        raise ValidationError("SendAt is required when ScheduleType is 'fixed'.", code=35111)
    if send_at < now + timedelta(seconds=min_lead):
        raise ValidationError(
            f"SendAt must be at least {min_lead:g} seconds in the future.", code=35114
        )
    if send_at > now + timedelta(seconds=max_lead):
        raise ValidationError(
            f"SendAt cannot be more than {max_lead:g} seconds (35 days) in the future.",
            code=35115,
        )
    return send_at
