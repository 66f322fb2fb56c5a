"""The worker's memory of messages it recorded ``sent``, which spares a receipt two reads."""

from __future__ import annotations

from smsgate.domain.delivery import CarrierRef
from smsgate.domain.messages import Direction, Message, Status
from smsgate.services.delivery import SentMemory
from tests.unit.test_inbound import message


def sent(n: int) -> Message:
    return message(sid=f"SM{n:032x}", status=Status.SENT, direction=Direction.OUTBOUND_API)


def test_a_receipt_takes_its_message_once() -> None:
    memory = SentMemory()
    first = sent(1)
    memory.remember("smpp:a", first)
    # a receipt names its id, and maybe other spellings of it; any of them finds it
    assert memory.take(("smpp:10", "smpp:a")) == (CarrierRef("smpp:a", first.sid), first)
    assert memory.take(("smpp:a",)) is None
    assert len(memory) == 0


def test_past_its_size_the_oldest_are_forgotten() -> None:
    memory = SentMemory(cap=3)
    for n in range(5):
        memory.remember(f"c:{n}", sent(n))
    assert len(memory) == 3
    assert memory.take(("c:0",)) is None
    assert memory.take(("c:1",)) is None
    assert [memory.take((f"c:{n}",)) is not None for n in (2, 3, 4)] == [True, True, True]
