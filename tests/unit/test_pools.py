"""Messaging Services without I/O: sender choice, the scheduling window, callback targets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from smsgate.config import ConfigError, load_settings
from smsgate.domain.messages import CreateRequest, Direction, Message, Status
from smsgate.domain.numbers import PhoneNumber
from smsgate.domain.pools import (
    InboundTarget,
    MessagingService,
    SenderOption,
    callback_target,
    choose_sender,
    inbound_target,
    service_in_from,
)
from smsgate.domain.scheduling import MAX_LEAD, check_send_at
from smsgate.domain.senders import SenderState
from smsgate.errors import ValidationError

S = 1_000_000
NOW = datetime(2026, 1, 1, tzinfo=UTC)
A, B, C = "+15017120001", "+15017120002", "+15017120003"
MG = "MG" + "a" * 32


def options(*senders: str, mps: float = 1.0) -> list[SenderOption]:
    return [SenderOption(s, mps) for s in senders]


def test_an_idle_pool_uses_its_first_number() -> None:
    chosen = choose_sender(options(A, B), {}, None, 100 * S, 1)
    assert chosen is not None
    assert chosen[0] == A
    assert chosen[1].due_us == 100 * S


def test_the_least_loaded_sender_wins() -> None:
    states = {A: SenderState(5, 105 * S), B: SenderState(2, 102 * S), C: SenderState(3, 103 * S)}
    chosen = choose_sender(options(A, B, C), states, None, 100 * S, 1)
    assert chosen is not None
    assert (chosen[0], chosen[1].due_us) == (B, 102 * S)


def test_a_pool_spreads_a_burst_over_its_numbers() -> None:
    states: dict[str, SenderState] = {}
    picked = []
    for _ in range(6):
        chosen = choose_sender(options(A, B, C), states, None, 100 * S, 1)
        assert chosen is not None
        picked.append(chosen[0])
        states[chosen[0]] = chosen[1].state
    assert picked == [A, B, C, A, B, C]


def test_the_sticky_sender_is_kept_even_when_busier() -> None:
    states = {A: SenderState(0, 0), B: SenderState(10, 110 * S)}
    chosen = choose_sender(options(A, B), states, B, 100 * S, 1)
    assert chosen is not None
    assert (chosen[0], chosen[1].due_us) == (B, 110 * S)


def test_a_full_sticky_sender_gives_way() -> None:
    full = SenderState(36_000, 36_100 * S)  # 10 hours at 1 segment per second
    chosen = choose_sender(options(A, B), {B: full}, B, 100 * S, 1)
    assert chosen is not None
    assert chosen[0] == A


def test_a_full_pool_has_no_sender() -> None:
    full = SenderState(36_000, 36_100 * S)
    assert choose_sender(options(A, B), {A: full, B: full}, None, 100 * S, 1) is None
    assert choose_sender([], {}, None, 100 * S, 1) is None


def test_an_unlimited_sender_is_always_due_now() -> None:
    chosen = choose_sender(options(A, mps=0), {A: SenderState(10**9, 10**12)}, None, 5 * S, 3)
    assert chosen is not None
    assert chosen[1].due_us == 5 * S


@pytest.mark.parametrize(
    ("send_at", "code"),
    [
        (None, 35111),
        (NOW, 35114),
        (NOW + timedelta(seconds=899), 35114),
        (NOW + timedelta(seconds=MAX_LEAD + 1), 35115),
    ],
)
def test_the_scheduling_window(send_at: datetime | None, code: int) -> None:
    with pytest.raises(ValidationError) as info:
        check_send_at(send_at, NOW, min_lead=900)
    assert info.value.code == code


def test_the_window_edges_are_inside() -> None:
    for lead in (900, MAX_LEAD):
        at = NOW + timedelta(seconds=lead)
        assert check_send_at(at, NOW, min_lead=900) == at
    assert check_send_at(NOW + timedelta(seconds=1), NOW, min_lead=1)


def test_a_service_sid_in_from_is_read_as_the_service() -> None:
    req = service_in_from(CreateRequest(to=A, from_=MG, body="x"))
    assert (req.from_, req.messaging_service_sid) == (None, MG)
    same = service_in_from(CreateRequest(to=A, from_=MG, messaging_service_sid=MG, body="x"))
    assert (same.from_, same.messaging_service_sid) == (None, MG)
    other = "MG" + "b" * 32
    kept = CreateRequest(to=A, from_=MG, messaging_service_sid=other, body="x")
    assert service_in_from(kept) is kept
    plain = CreateRequest(to=A, from_=B, body="x")
    assert service_in_from(plain) is plain


def _message(callback: str | None) -> Message:
    return Message("SM" + "c" * 32, "AC" + "d" * 32, A, B, "x", Status.QUEUED,
                   Direction.OUTBOUND_API, 1, 0, NOW, NOW, status_callback=callback)  # fmt: skip


def test_status_callbacks_go_to_the_message_then_the_service_then_the_number() -> None:
    service = MessagingService(MG, "AC" + "d" * 32, "svc", NOW, NOW, status_callback="https://s/")
    number = PhoneNumber("PN" + "e" * 32, "AC" + "d" * 32, B, "n", NOW, NOW,
                         status_callback="https://n/", status_callback_method="GET")  # fmt: skip
    assert callback_target(_message("https://m/"), service, number) == ("https://m/", "POST")
    assert callback_target(_message(None), service, number) == ("https://s/", "POST")
    bare = MessagingService(MG, "AC" + "d" * 32, "svc", NOW, NOW)
    assert callback_target(_message(None), bare, number) == ("https://n/", "GET")
    assert callback_target(_message(None), None, None) is None


def test_inbound_webhooks_go_to_the_service_unless_it_defers_to_the_number() -> None:
    acct = "AC" + "d" * 32
    number = PhoneNumber("PN" + "e" * 32, acct, B, "n", NOW, NOW,
                         sms_url="https://n/sms", sms_method="GET",
                         sms_fallback_url="https://n/fb", sms_fallback_method="GET")  # fmt: skip
    own = InboundTarget("https://n/sms", "GET", "https://n/fb", "GET")
    assert inbound_target(number, None) == own
    service = MessagingService(MG, acct, "svc", NOW, NOW,
                               inbound_request_url="https://s/in", inbound_method="GET",
                               fallback_url="https://s/fb", fallback_method="POST")  # fmt: skip
    assert inbound_target(number, service) == InboundTarget(
        "https://s/in", "GET", "https://s/fb", "POST"
    )
    deferring = replace(service, use_inbound_webhook_on_number=True)
    assert inbound_target(number, deferring) == own
    # A service without an InboundRequestUrl requests nothing, even with a FallbackUrl.
    silent = replace(service, inbound_request_url=None)
    assert inbound_target(number, silent) is None
    bare = replace(number, sms_url=None)
    assert inbound_target(bare, None) is None
    assert inbound_target(bare, deferring) is None
    assert inbound_target(replace(number, sms_fallback_url=""), None) == replace(
        own, fallback_url=None
    )


def test_min_schedule_lead_setting() -> None:
    settings, _ = load_settings({}, {"SMSGATE_MIN_SCHEDULE_LEAD": "1"})
    assert settings.min_schedule_lead == 1
    assert load_settings({}, {})[0].min_schedule_lead == 900
    with pytest.raises(ConfigError):
        load_settings({"min_schedule_lead": "-1"}, {})
    with pytest.raises(ConfigError):
        load_settings({"min_schedule_lead": str(MAX_LEAD + 1)}, {})
