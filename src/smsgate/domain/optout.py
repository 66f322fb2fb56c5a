"""Twilio's default opt-out keywords: single-word messages, any case, trimmed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})


class Keyword(Enum):
    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"
    HELP = "help"


def classify(body: str) -> Keyword | None:
    """The keyword an inbound body is, or None ("STOP please" is not an opt-out)."""
    word = body.strip().upper()
    if word in OPT_OUT:
        return Keyword.OPT_OUT
    if word in OPT_IN:
        return Keyword.OPT_IN
    if word in HELP:
        return Keyword.HELP
    return None


# Twilio's default automatic replies on long codes and toll-free numbers.
DEFAULT_STOP_REPLY = (
    "You have successfully been unsubscribed. You will not receive any more messages from "
    "this number. Reply START to resubscribe."
)
DEFAULT_START_REPLY = (
    "You have successfully been re-subscribed to messages from this number. Reply HELP for "
    "help. Reply STOP to unsubscribe. Msg&Data Rates May Apply."
)
DEFAULT_HELP_REPLY = "Reply STOP to unsubscribe. Msg&Data Rates May Apply."


@dataclass(frozen=True, slots=True)
class AutoReplies:
    """The text sent back for each keyword; an empty text sends nothing."""

    stop: str = DEFAULT_STOP_REPLY
    start: str = DEFAULT_START_REPLY
    help: str = DEFAULT_HELP_REPLY

    def for_keyword(self, keyword: Keyword | None) -> str:
        if keyword is Keyword.OPT_OUT:
            return self.stop
        if keyword is Keyword.OPT_IN:
            return self.start
        if keyword is Keyword.HELP:
            return self.help
        return ""
