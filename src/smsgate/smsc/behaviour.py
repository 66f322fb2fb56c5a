"""What the simulated SMSC does: every knob is a CLI flag at start and a key of
``POST /behaviour`` at run time (same name, ``-`` for ``_``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

RECEIPT_STATES: Final[dict[str, int]] = {
    # stat: text of the receipt -> message_state TLV (SMPP 3.4 §5.2.28)
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}


def _knob(default: Any, help: str, choices: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(slots=True)
class Behaviour:
    receipts: bool = _knob(True, "Send a delivery receipt when registered_delivery asks.")
    receipt_delay: float = _knob(0.0, "Seconds between submit_sm_resp and the receipt.")
    receipt_stat: str = _knob("DELIVRD", "stat: of receipts.", tuple(RECEIPT_STATES))
    receipt_err: int = _knob(0, "err: of receipts (network error code, 0-999).")
    receipt_command: str = _knob(
        "deliver_sm", "Receipts as deliver_sm or data_sm.", ("deliver_sm", "data_sm")
    )
    receipt_before_resp: bool = _knob(
        False, "Send the receipt before the submit_sm_resp that gives its message id."
    )
    receipt_tlvs: bool = _knob(True, "Add receipted_message_id and message_state TLVs.")
    message_ids: str = _knob("hex", "Form of the message ids issued.", ("hex", "decimal"))
    receipt_id_form: str = _knob(
        "same",
        "How receipts quote the id: as issued, zero-padded to 16, or in decimal/hex.",
        ("same", "padded", "decimal", "hex"),
    )
    submit_resp_delay: float = _knob(0.0, "Seconds before answering a submit_sm or data_sm.")
    reject_status: int = _knob(0, "Answer submits with this command_status (0: accept).")
    reject_prefixes: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Only reject destinations starting with one of these (empty: all).",
            "choices": (),
        },
    )
    throttle_mps: float = _knob(0.0, "Answer ESME_RTHROTTLED above this many submits/s (0: off).")
    throttle_next: int = _knob(0, "Answer the next N submits with ESME_RTHROTTLED.")
    bind_status: int = _knob(0, "Answer every bind with this command_status (0: accept).")
    drop_after_submits: int = _knob(
        0, "Close the connection without unbind on the Nth submit from now, unanswered."
    )

    def json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def copy(self) -> Behaviour:
        return dataclasses.replace(self, reject_prefixes=list(self.reject_prefixes))

    def patch(self, changes: Mapping[str, Any]) -> None:
        """Apply a JSON patch; all or nothing. Raises ValueError naming the bad key."""
        known = {f.name: f for f in fields(self)}
        staged: dict[str, Any] = {}
        for key, value in changes.items():
            f = known.get(key)
            if f is None:
                raise ValueError(f"unknown behaviour {key!r}")
            staged[key] = _checked(key, value, f.default, f.metadata["choices"])
        for key, value in staged.items():
            setattr(self, key, value)


def _checked(key: str, value: Any, default: Any, choices: tuple[str, ...]) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false")
        return value
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{key} must be a non-negative integer")
        if key == "receipt_err" and value > 999:
            raise ValueError("receipt_err must be 0-999")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{key} must be a non-negative number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str) or (choices and value not in choices):
            raise ValueError(f"{key} must be one of {', '.join(choices)}")
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings")
    return list(value)


def knobs() -> list[dataclasses.Field[Any]]:
    return list(fields(Behaviour))


def parse_flag(key: str, raw: str) -> Any:
    """A CLI flag's text as the JSON value ``patch`` takes."""
    default = Behaviour().json()[key]
    if isinstance(default, list):
        return [p.strip() for p in raw.split(",") if p.strip()]
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, int):
        return int(raw, 0)  # 0x58 or 88
    return raw
