"""Reading delivery receipts and matching their ids; SMPP statuses; the carrier URL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smsgate.connectors.base import PermanentError, TemporaryError
from smsgate.connectors.smpp import receipts, statuses
from smsgate.connectors.smpp.config import SmppConfigError, parse_url
from smsgate.connectors.smpp.text import Concat
from smsgate.smpp import pdu

STANDARD = (
    "id:0000A1B2 sub:001 dlvrd:001 submit date:2611251200 done date:2611251203 "
    "stat:DELIVRD err:000 text:Hello"
)


def _deliver(text: str = "", **tlvs: object) -> pdu.Pdu:
    return pdu.decode(
        pdu.encode(
            "deliver_sm",
            3,
            source_addr="15551234567",
            destination_addr="15017122661",
            esm_class=0x04,
            short_message=text.encode(),
            **tlvs,
        )
    )


def test_standard_receipt_text() -> None:
    parsed = receipts.parse(_deliver(STANDARD), STANDARD)
    assert parsed == receipts.ParsedReceipt(
        "0000A1B2", "DELIVRD", "000", datetime(2026, 11, 25, 12, 3, tzinfo=UTC)
    )
    assert parsed.final


def test_tlvs_win_over_text_and_stand_alone() -> None:
    request = _deliver("", receipted_message_id="abc123", message_state=5)
    parsed = receipts.parse(request, "")
    assert parsed is not None
    assert (parsed.message_id, parsed.stat) == ("abc123", "UNDELIV")


def test_receipt_without_id_is_none_and_enroute_is_not_final() -> None:
    assert receipts.parse(_deliver("stat:DELIVRD"), "stat:DELIVRD") is None
    enroute = receipts.parse(_deliver("id:1 stat:ENROUTE"), "id:1 stat:ENROUTE")
    assert enroute is not None
    assert not enroute.final


@pytest.mark.parametrize(
    ("submitted", "receipted"),
    [
        ("0A1B2C", "662316"),  # hex in the resp, decimal in the receipt
        ("662316", "0A1B2C"),  # and the other way round
        ("12345", "0000012345"),  # leading zeros
        ("ABCDEF", "abcdef"),  # case
    ],
)
def test_id_forms_match(submitted: str, receipted: str) -> None:
    assert receipts.canonical_id(submitted) in receipts.id_keys(receipted)


def test_is_receipt_reads_the_message_type_bits() -> None:
    assert receipts.is_receipt(0x04)
    assert receipts.is_receipt(0x44)  # with UDHI
    assert not receipts.is_receipt(0x00)
    assert not receipts.is_receipt(0x40)


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (pdu.ESME_RTHROTTLED, TemporaryError, 30008),
        (pdu.ESME_RMSGQFUL, TemporaryError, 30008),
        (pdu.ESME_RINVDSTADR, PermanentError, 30005),
        (pdu.ESME_RINVSRCADR, PermanentError, 30007),
        (0x1234, PermanentError, 30008),  # unknown: permanent, no retry storm
    ],
)
def test_submit_statuses_map_to_twilio_codes(status: int, kind: type, code: int) -> None:
    error = statuses.submit_error(status)
    assert isinstance(error, kind)
    assert error.code == code


def test_carrier_url_with_every_kind_of_option() -> None:
    config = parse_url(
        "smpps://my%40id:p%3Ass@smsc.example:3550?bind=txrx&window=20&throughput=50.5"
        "&concat=sar&source_ton=5&tls_verify=false&system_type=VMA",
        name="primary",
    )
    assert (config.system_id, config.password) == ("my@id", "p:ss")
    assert (config.host, config.port, config.tls, config.tls_verify) == (
        "smsc.example",
        3550,
        True,
        False,
    )
    assert (config.bind, config.window, config.throughput) == ("txrx", 20, 50.5)
    assert (config.concat, config.source_ton, config.system_type) == (Concat.SAR, 5, "VMA")
    assert config.name == "primary"
    assert parse_url("smpp://u:p@h").port == 2775
    assert (parse_url("smpp://u:p@h").mms, parse_url("smpp://u:p@h?mms=reject").mms) == (
        "text",
        "reject",
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://u:p@h:1", "smpp://"),
        ("smpp://u:p@h:1?windw=3", "unknown SMPP option 'windw'"),
        ("smpp://u:p@h:1?window=0", "window"),
        ("smpp://u:p@h:1?window=ten", "not a number"),
        ("smpp://u:p@h:1?bind=rx", "bind"),
        ("smpp://u:p@h:1?concat=udh32", "concat"),
        ("smpp://:p@h:1", "system id"),
        ("smpp://u:p@h:1?tls=maybe", "true or false"),
        ("smpp://u:p@h:1?mms=drop", "mms must be text or reject"),
    ],
)
def test_bad_carrier_urls_say_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(SmppConfigError, match=problem):
        parse_url(url)


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("+15017122661", (1, 1, "15017122661")),  # E.164: international, ISDN
        ("12345", (3, 0, "12345")),  # a short code
        ("MyBrand", (5, 0, "MyBrand")),  # alphanumeric
    ],
)
def test_source_address_ton_npi(sender: str, expected: tuple[int, int, str]) -> None:
    from smsgate.connectors.smpp.connector import SmppConnector

    source = SmppConnector(parse_url("smpp://u:p@h"))._source(sender)
    assert (source["source_addr_ton"], source["source_addr_npi"], source["source_addr"]) == expected
