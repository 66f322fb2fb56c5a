"""Sender rates, queue caps and retry backoff."""

from __future__ import annotations

import pytest

from smsgate.domain.senders import SenderState, default_mps, release, retry_delay, take_slot

S = 1_000_000


@pytest.mark.parametrize(
    ("sender", "kind", "mps"),
    [
        ("+15017122661", "local", 1.0),
        ("+18005550100", "toll-free", 3.0),
        ("+447700900123", "mobile", 10.0),
        ("MyBrand", None, 10.0),
        ("12345", None, 100.0),
    ],
)
def test_default_rates(sender: str, kind: str | None, mps: float) -> None:
    assert default_mps(sender, kind) == mps


def test_slots_spread_a_backlog_at_the_senders_rate() -> None:
    state = SenderState()
    dues = []
    for _ in range(3):
        slot = take_slot(state, now_us=100 * S, segments=2, mps=1.0)
        assert slot is not None
        dues.append(slot.due_us)
        state = slot.state
    assert dues == [100 * S, 102 * S, 104 * S]
    assert state.queued_segments == 6


def test_an_idle_sender_is_due_now() -> None:
    slot = take_slot(SenderState(0, 50 * S), now_us=100 * S, segments=1, mps=1.0)
    assert slot is not None
    assert slot.due_us == 100 * S


def test_ten_hours_of_segments_is_the_cap() -> None:
    full = SenderState(queued_segments=36_000)
    assert take_slot(full, 0, 1, 1.0) is None
    assert take_slot(SenderState(queued_segments=35_999), 0, 1, 1.0) is not None
    assert take_slot(SenderState(queued_segments=107_999), 0, 1, 3.0) is not None


def test_unlimited_rate_is_always_due_and_uncapped() -> None:
    slot = take_slot(SenderState(10**9, 999 * S), now_us=5 * S, segments=3, mps=0)
    assert slot is not None
    assert slot.due_us == 5 * S


def test_release_never_goes_negative() -> None:
    assert release(SenderState(2, 7), 5) == SenderState(0, 7)


def test_backoff() -> None:
    assert [retry_delay(a) for a in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert retry_delay(30) == 300.0
