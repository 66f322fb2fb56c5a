"""Per-sender throughput, as Twilio meters it: message segments per second.

Each sender (a phone number, or a Messaging Service before it picks one) has a rate and a
queue that may hold at most 10 hours of its rate. A new message gets the next free slot of
its sender: ``due = max(now, next_slot)``, and the sender's next slot moves on by
``segments / rate``. So a sender's backlog is spread over time in the queue itself, and a
new sender's first message is due at once, never behind another sender's backlog.
"""

from __future__ import annotations

from dataclasses import dataclass

QUEUE_HOURS = 10
_US = 1_000_000

# Twilio's sender classes (segments per second).
LONG_CODE_MPS = 1.0
TOLL_FREE_MPS = 3.0
SHORT_CODE_MPS = 100.0
OTHER_MPS = 10.0  # alphanumeric senders and any number outside +1


def default_mps(sender: str, number_type: str | None) -> float:
    """The rate Twilio gives a sender of this kind."""
    if not sender.startswith("+"):
        return SHORT_CODE_MPS if sender.isdigit() else OTHER_MPS
    if not sender.startswith("+1"):
        return OTHER_MPS
    if number_type == "toll-free":
        return TOLL_FREE_MPS
    return LONG_CODE_MPS


@dataclass(frozen=True, slots=True)
class SenderState:
    queued_segments: int = 0
    next_slot_us: int = 0


@dataclass(frozen=True, slots=True)
class Slot:
    due_us: int
    state: SenderState


def take_slot(state: SenderState, now_us: int, segments: int, mps: float) -> Slot | None:
    """The slot for a message of ``segments``, or None when the queue would pass 10 hours.

    ``mps`` of 0 means unlimited: the message is due at once and the queue has no cap.
    """
    segments = max(segments, 1)
    if mps <= 0:
        return Slot(now_us, SenderState(state.queued_segments + segments, now_us))
    cap = int(mps * QUEUE_HOURS * 3600)
    if state.queued_segments + segments > cap:
        return None
    due = max(now_us, state.next_slot_us)
    step = int(segments * _US / mps)
    return Slot(due, SenderState(state.queued_segments + segments, due + step))


def release(state: SenderState, segments: int) -> SenderState:
    """A message left the queue (sent, failed or expired)."""
    return SenderState(max(state.queued_segments - max(segments, 1), 0), state.next_slot_us)


def retry_delay(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Seconds before retrying after a temporary carrier error (exponential, capped)."""
    return float(min(cap, base * (2 ** max(attempt - 1, 0))))
