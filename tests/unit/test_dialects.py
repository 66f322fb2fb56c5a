"""The vocabularies, representations and v2 parameter rules that need no server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring

from smsgate.api.render import csv_body, xml_body
from smsgate.api.routes.search import parse_search
from smsgate.api.serialize import (
    ACCOUNTS,
    KEYS,
    MESSAGES,
    NUMBERS,
)
from smsgate.api.serialize_legacy import SMS_MESSAGES, legacy_paging
from smsgate.domain.accounts import Account, AccountStatus, ApiKey
from smsgate.domain.dialects import (
    LEGACY_DIRECTION,
    LEGACY_STATUS,
    MAX_RESULTS,
    V2_DIRECTION,
    V2_STATUS,
    V2Status,
    statuses_for,
)
from smsgate.domain.messages import Direction, Message, Status
from smsgate.domain.numbers import PhoneNumber
from smsgate.errors import InvalidParameters

T = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_every_status_and_direction_has_one_word_in_each_dialect() -> None:
    assert set(LEGACY_STATUS) == set(Status) == set(V2_STATUS)
    assert set(LEGACY_DIRECTION) == set(Direction) == set(V2_DIRECTION)
    assert set(LEGACY_STATUS.values()) == {"queued", "sending", "sent", "failed", "received"}
    assert LEGACY_STATUS[Status.DELIVERED] == "sent"
    assert LEGACY_STATUS[Status.UNDELIVERED] == "failed"
    assert LEGACY_DIRECTION[Direction.INBOUND] == "incoming"
    # The table.
    assert statuses_for(V2Status.PROCESSING) == {
        Status.QUEUED, Status.ACCEPTED, Status.SCHEDULED, Status.SENDING
    }  # fmt: skip
    assert statuses_for(V2Status.DELIVERED) == {Status.DELIVERED, Status.READ}
    assert statuses_for(V2Status.FAILED) == {Status.FAILED, Status.UNDELIVERED, Status.CANCELED}
    assert statuses_for(V2Status.RECEIVED) == {Status.RECEIVED, Status.RECEIVING}
    assert Status.SENT in statuses_for(V2Status.SUBMITTED)


def _message() -> Message:
    return Message(
        "SM" + "a" * 32, "AC" + "b" * 32, "+15558675310", "+15005550006", "hi", Status.QUEUED,
        Direction.OUTBOUND_API, 1, 0, T, T,
    )  # fmt: skip


SAMPLES: list[tuple[Any, Any]] = [
    (MESSAGES, _message()),
    (SMS_MESSAGES, _message()),
    (ACCOUNTS, Account("AC" + "b" * 32, None, "me", "t" * 32, AccountStatus.ACTIVE, T, T)),
    (KEYS, ApiKey("SK" + "c" * 32, "AC" + "b" * 32, "k", "hash", T, T)),
    (NUMBERS, PhoneNumber("PN" + "d" * 32, "AC" + "b" * 32, "+15005550006", "n", T, T)),
]


@pytest.mark.parametrize(("kind", "item"), SAMPLES, ids=[k.element for k, _ in SAMPLES])
def test_csv_columns_are_the_flat_fields_of_each_resource(kind: Any, item: Any) -> None:
    assert kind.columns == csv_body.columns(kind.to_body(item, ".csv"))


def test_xml_names_escaping_and_nulls() -> None:
    assert xml_body.element_name("date_created") == "DateCreated"
    assert xml_body.element_name("from") == "From"
    assert xml_body.element_name("sms") == "SMS"
    assert xml_body.attribute_name("first_page_uri") == "firstpageuri"
    doc = xml_body.instance(
        "Message", {"body": 'a < b & \x01 "c"', "price": None, "flag": True, "n": {"sms": 1}}
    )
    root = fromstring(doc)
    message = root.find("Message")
    assert message is not None
    assert message.findtext("Body") == 'a < b & \ufffd "c"'
    assert message.find("Price") is not None and message.findtext("Price") == ""
    assert message.findtext("Flag") == "true"
    assert message.findtext("N/SMS") == "1"
    listing = fromstring(xml_body.listing("Messages", "Message", [], {"next_page_uri": None}))
    assert listing.find("Messages").attrib == {"nextpageuri": ""}


def test_csv_quotes_and_nulls() -> None:
    data = csv_body.header(("body", "price")) + csv_body.rows(
        ("body", "price"), [{"body": 'a, "b"\nc', "price": None}]
    )
    assert data == b'Body,Price\r\n"a, ""b""\nc",\r\n'


def test_legacy_paging_counts_pages() -> None:
    p = legacy_paging("/p", [("To", "+1")], [], 1, 50, 261, 50)
    assert (p["num_pages"], p["start"], p["end"], p["total"]) == (6, 50, 99, 261)
    assert p["uri"] == "/p?To=%2B1"
    assert p["previous_page_uri"] == "/p?To=%2B1&Page=0&PageSize=50"
    assert p["last_page_uri"] == "/p?To=%2B1&Page=5&PageSize=50"
    empty = legacy_paging("/p", [], [], 0, 50, 0, 0)
    assert (empty["num_pages"], empty["end"], empty["next_page_uri"]) == (0, 0, None)
    assert empty["last_page_uri"] == "/p?Page=0&PageSize=50"


def test_v2_parameters() -> None:
    s = parse_search({"Date_From": "10", "Date_To": 20, "Results_Count": 10**6}, None)
    assert (s.created_from_us, s.created_to_us, s.limit, s.skip) == (
        10**7,
        2 * 10**7,
        MAX_RESULTS,
        0,
    )
    assert s.statuses is None and s.directions is None
    s = parse_search(
        {"Date_From": 1, "Date_To": 2, "Status": "failed", "Direction": "Receive"}, "MG1"
    )
    assert s.statuses == statuses_for(V2Status.FAILED)
    assert s.directions == {Direction.INBOUND}
    assert s.service_sid == "MG1" and s.limit == 200
    with pytest.raises(InvalidParameters) as info:
        parse_search({"Date_From": "", "Date_To": [1]}, None)
    assert [(p.parameter, p.missing) for p in info.value.problems] == [
        ("Date_From", True),
        ("Date_To", False),
    ]
