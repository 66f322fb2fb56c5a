"""Delivery receipts: reading them from deliver_sm / data_sm, and matching their ids.

A receipt names the message by the id the SMSC gave in submit_sm_resp, either in the
``receipted_message_id`` TLV or as ``id:`` in the receipt text (SMPP 3.4 Appendix B):

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD
    err:E text: ...

SMSCs disagree on the id's form: the resp may say ``0A1B2C`` and the receipt ``660268``
(the same number in decimal), or pad it with zeros. ``id_keys`` gives the forms one id is
looked up under, so either side's form finds the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from smsgate.smpp.pdu import Pdu

ESM_TYPE_MASK: Final = 0x3C
ESM_DELIVERY_RECEIPT: Final = 0x04
ESM_INTERMEDIATE: Final = 0x20

Outcome = Literal["delivered", "undelivered", "failed"]

# stat -> (status, Twilio error code); ENROUTE/ACCEPTD are not final and are only acked
STATS: Final[dict[str, tuple[Outcome, int | None]]] = {
    "DELIVRD": ("delivered", None),
    "UNDELIV": ("undelivered", 30003),
    "EXPIRED": ("undelivered", 30036),
    "REJECTD": ("undelivered", 30007),
    "DELETED": ("undelivered", 30008),
    "UNKNOWN": ("undelivered", 30008),
}
# message_state TLV values (SMPP 3.4 §5.2.28) -> stat word
MESSAGE_STATES: Final[dict[int, str]] = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}

_ID = re.compile(r"\bid:\s*([0-9A-Za-z\-_.]+)", re.IGNORECASE)
_STAT = re.compile(r"\bstat:\s*([A-Za-z]+)", re.IGNORECASE)
_ERR = re.compile(r"\berr:\s*([0-9A-Za-z]+)", re.IGNORECASE)
_DONE = re.compile(r"\bdone date:\s*(\d{10,12})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedReceipt:
    message_id: str
    stat: str  # DELIVRD, UNDELIV, … (upper case)
    err: str | None
    done: datetime | None

    @property
    def final(self) -> bool:
        return self.stat in STATS


def is_receipt(esm_class: int) -> bool:
    return (esm_class & ESM_TYPE_MASK) in (ESM_DELIVERY_RECEIPT, ESM_INTERMEDIATE)


def parse(request: Pdu, text: str) -> ParsedReceipt | None:
    """The receipt a deliver_sm/data_sm carries (``text`` is its decoded short message),
    or None when it names no message id."""
    tlv_id = request.text("receipted_message_id").strip("\x00 ")
    found = _ID.search(text)
    message_id = tlv_id or (found.group(1) if found else "")
    if not message_id:
        return None
    state = request.field("message_state")
    stat_match = _STAT.search(text)
    if stat_match:
        stat = stat_match.group(1).upper()
    elif state is not None:
        stat = MESSAGE_STATES.get(int(state), "UNKNOWN")
    else:
        stat = "UNKNOWN"
    err_match = _ERR.search(text)
    done_match = _DONE.search(text)
    return ParsedReceipt(
        message_id,
        stat,
        err_match.group(1) if err_match else None,
        _done_date(done_match.group(1)) if done_match else None,
    )


def _done_date(value: str) -> datetime | None:
    fmt = "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M"
    try:
        return datetime.strptime(value, fmt).replace(tzinfo=UTC)
    except ValueError:
        return None


def canonical_id(message_id: str) -> str:
    """The form an SMSC's message id is stored under: trimmed, lower case, no leading zeros."""
    value = message_id.strip().strip("\x00").lower()
    stripped = value.lstrip("0")
    return stripped or ("0" if value else "")


def id_keys(message_id: str) -> tuple[str, ...]:
    """Every canonical form under which a receipt's id may have been stored: as given, and
    read as hexadecimal or decimal and written the other way."""
    canonical = canonical_id(message_id)
    keys = [canonical]
    if canonical and all(c in "0123456789abcdef" for c in canonical):
        keys.append(str(int(canonical, 16)))
    if canonical.isdigit():
        keys.append(format(int(canonical), "x"))
    return tuple(dict.fromkeys(keys))
