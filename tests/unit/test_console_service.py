"""The console's pure helpers: why a body has its segments, a message's timeline, threads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from smsgate.domain.dates import to_us
from smsgate.domain.delivery import CallbackAttempt, StatusChange
from smsgate.domain.messages import Direction, Message, Status
from smsgate.services.console import ConsoleService, thread_of

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _message(**changes: object) -> Message:
    m = Message(
        sid="SM" + "0" * 32,
        account_sid="AC" + "0" * 32,
        to="+15558675310",
        from_="+15005550006",
        body="hi",
        status=Status.QUEUED,
        direction=Direction.OUTBOUND_API,
        num_segments=1,
        num_media=0,
        date_created=T0,
        date_updated=T0,
    )
    return replace(m, **changes)  # type: ignore[arg-type]


def test_segment_why_names_the_characters_that_forced_ucs2_once_each() -> None:
    why = ConsoleService.segment_why("Caf\u00e9 \u2014 ok \u2014 \U0001f377 {x}")
    assert why.encoding == "UCS-2"
    assert why.non_gsm_chars == ("\u2014", "\U0001f377")  # é is GSM-7; { is its extension
    assert why.extension_chars == ()


def test_segment_why_counts_extension_characters_in_gsm7() -> None:
    body = "[" * 80
    why = ConsoleService.segment_why(body)
    assert (why.encoding, why.units, why.extension_chars) == ("GSM-7", 160, ("[",))
    assert why.num_segments == 1
    assert ConsoleService.segment_why(body + "[").num_segments == 2


def test_the_timeline_orders_what_is_known() -> None:
    m = _message(
        status=Status.UNDELIVERED,
        date_sent=T0 + timedelta(seconds=1),
        date_updated=T0 + timedelta(seconds=3),
        error_code=30003,
        error_message="Unreachable destination handset",
    )
    attempts = [
        CallbackAttempt(1, 1, "http://h/cb", to_us(T0 + timedelta(seconds=2)), 12, 200, None, ""),
        CallbackAttempt(
            2, 1, "http://h/cb", to_us(T0 + timedelta(seconds=4)), 9, None, "refused", ""
        ),
    ]
    lines = [(e.what, e.detail) for e in ConsoleService.timeline(m, attempts)]
    assert [w for w, _ in lines] == [
        "created",
        "sent",
        "status callback attempt 1",
        "undelivered",
        "status callback attempt 1",
    ]
    assert "error 30003" in lines[3][1]
    assert lines[2][1] == "http://h/cb → HTTP 200 in 12 ms"
    assert lines[4][1] == "http://h/cb → refused in 9 ms"


def test_with_a_status_history_each_status_shows_with_its_time_and_error() -> None:
    def at(seconds: float) -> int:
        return to_us(T0 + timedelta(seconds=seconds))

    m = _message(
        status=Status.UNDELIVERED,
        date_sent=T0 + timedelta(seconds=2),
        date_updated=T0 + timedelta(seconds=5),
        error_code=30003,
        error_message="Unreachable destination handset",
    )
    history = [
        StatusChange(Status.QUEUED, at(0)),
        StatusChange(Status.SENDING, at(1)),
        StatusChange(Status.SENT, at(2)),
        StatusChange(Status.UNDELIVERED, at(5), 30003),
    ]
    attempts = [CallbackAttempt(1, 1, "http://h/cb", at(3), 12, 200, None, "")]
    lines = [(e.at, e.what, e.detail) for e in ConsoleService.timeline(m, attempts, history)]
    assert [(a, w) for a, w, _ in lines] == [
        (T0, "created"),
        (T0, "queued"),
        (T0 + timedelta(seconds=1), "sending"),
        (T0 + timedelta(seconds=2), "sent"),
        (T0 + timedelta(seconds=3), "status callback attempt 1"),
        (T0 + timedelta(seconds=5), "undelivered"),
    ]
    assert lines[-1][2] == "error 30003: Unreachable destination handset"
    # a code the message no longer carries is named from Twilio's table
    failed_then = [StatusChange(Status.FAILED, at(1), 30007)]
    entry = next(
        e for e in ConsoleService.timeline(_message(), [], failed_then) if e.what == "failed"
    )
    assert entry.detail == "error 30007: Message filtered"


def test_an_unchanged_message_shows_its_creation_and_its_status() -> None:
    assert [e.what for e in ConsoleService.timeline(_message(), [])] == ["created", "queued"]
    inbound = _message(direction=Direction.INBOUND, status=Status.RECEIVED)
    assert [e.what for e in ConsoleService.timeline(inbound, [])] == ["arrived", "received"]


def test_a_thread_is_our_number_and_theirs_whichever_way_it_went() -> None:
    out = _message()
    assert thread_of(out) == ("+15005550006", "+15558675310")
    back = _message(direction=Direction.INBOUND, to="+15005550006", from_="+15558675310")
    assert thread_of(back) == thread_of(out)
    assert thread_of(_message(from_=None)) is None
