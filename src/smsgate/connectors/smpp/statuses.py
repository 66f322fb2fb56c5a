"""SMPP command_status values and what they mean for a message (Twilio error codes).

Temporary statuses leave the message queued for another attempt; permanent ones fail it.
The table is the documented mapping (docs/smpp.md); a status not in it is permanent with
30008 "Unknown error", so an unfamiliar SMSC cannot cause a retry storm.
"""

from __future__ import annotations

from typing import Final

from smsgate.connectors.base import ConnectorError, PermanentError, TemporaryError
from smsgate.smpp import pdu

THROTTLING: Final = frozenset({pdu.ESME_RTHROTTLED, pdu.ESME_RMSGQFUL})

TEMPORARY: Final[dict[int, str]] = {
    pdu.ESME_RTHROTTLED: "The carrier is throttling submits",
    pdu.ESME_RMSGQFUL: "The carrier's message queue is full",
    pdu.ESME_RSYSERR: "The carrier reported a system error",
    pdu.ESME_RX_T_APPN: "The carrier reported a temporary application error",
    pdu.ESME_RINVBNDSTS: "The carrier says the bind is not in a state to submit",
    0x45: "The carrier failed to submit the message",  # ESME_RSUBMITFAIL
}

# command_status -> (Twilio code, message)
PERMANENT: Final[dict[int, tuple[int, str]]] = {
    pdu.ESME_RINVDSTADR: (30005, "The carrier rejected the destination address"),
    0x50: (30005, "The carrier rejected the destination TON"),  # ESME_RINVDSTTON
    0x51: (30005, "The carrier rejected the destination NPI"),  # ESME_RINVDSTNPI
    pdu.ESME_RINVSRCADR: (30007, "The carrier rejected the source address"),
    0x48: (30007, "The carrier rejected the source TON"),  # ESME_RINVSRCTON
    0x49: (30007, "The carrier rejected the source NPI"),  # ESME_RINVSRCNPI
    pdu.ESME_RX_P_APPN: (30007, "The carrier rejected the message (permanent)"),
    pdu.ESME_RX_R_APPN: (30007, "The carrier rejected the message"),
    pdu.ESME_RINVMSGLEN: (30008, "The carrier rejected the message length"),
    pdu.ESME_RDELIVERYFAILURE: (30003, "The carrier could not deliver the message"),
}


def submit_error(status: int) -> ConnectorError:
    """The error a non-zero submit_sm_resp status raises."""
    if status in TEMPORARY:
        return TemporaryError(30008, f"{TEMPORARY[status]} (0x{status:08x})")
    code, text = PERMANENT.get(status, (30008, "The carrier refused the message"))
    return PermanentError(code, f"{text} (0x{status:08x})")
