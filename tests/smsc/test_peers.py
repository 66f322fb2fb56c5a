"""The two SMSC peers themselves, each driven by a hand-held ESME (tests/smsc/esme.py).

Every test runs against ``smsgate smsc-sim`` and the npm-smpp SMSC through the one control
API, so the connector suite can rely on both behaving as docs/smsc-sim.md says. Expected
octets are written out by hand here rather than produced by either peer's text code.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from smsgate.smpp.pdu import (
    ESME_RALYBND,
    ESME_RBINDFAIL,
    ESME_RINVBNDSTS,
    ESME_RINVCMDID,
    ESME_RINVDSTADR,
    ESME_RINVPASWD,
    ESME_RINVSYSID,
    ESME_RSYSERR,
    ESME_RTHROTTLED,
    encode,
)
from tests.conftest import SMSGATE, wait_until
from tests.smpp_peers import NODE_DIR, SmscPeer, node_ready, start_peer
from tests.smsc.esme import Esme

RECEIPT = re.compile(
    r"id:(\S+) sub:001 dlvrd:(\d{3}) submit date:(\d{10}) done date:(\d{10}) "
    r"stat:(\w+) err:(\d{3}) text:(.*)"
)


@pytest.fixture
def esme(smsc: SmscPeer) -> Iterator[Esme]:
    with Esme(smsc.host, smsc.port) as client:
        yield client


def bound(smsc: SmscPeer, kind: str = "transceiver") -> Esme:
    client = Esme(smsc.host, smsc.port)
    assert client.bind(kind, smsc.system_id, smsc.password) == 0
    return client


def test_binds_check_credentials_and_state(smsc: SmscPeer, esme: Esme) -> None:
    assert esme.bind("transceiver", smsc.system_id, "wrong") == ESME_RINVPASWD
    assert esme.bind("transceiver", "nobody", smsc.password) == ESME_RINVSYSID
    assert esme.bind("transmitter", smsc.system_id, smsc.password) == 0
    assert esme.bind("receiver", smsc.system_id, smsc.password) == ESME_RALYBND
    [session] = smsc.sessions()
    assert session["bind"] == "transmitter"
    assert session["system_id"] == smsc.system_id
    assert session["bound"] and session["open"]


def test_binds_rejected_on_demand_then_accepted(smsc: SmscPeer, esme: Esme) -> None:
    smsc.behaviour(bind_status=ESME_RBINDFAIL)
    assert esme.bind("transceiver", smsc.system_id, smsc.password) == ESME_RBINDFAIL
    smsc.behaviour(bind_status=0)
    assert esme.bind("transceiver", smsc.system_id, smsc.password) == 0


def test_enquire_link_unknown_commands_and_unbound_submits(smsc: SmscPeer, esme: Esme) -> None:
    early = esme.expect("submit_sm_resp", sequence=esme.submit("15558675310", b"early"))
    assert early.status == ESME_RINVBNDSTS
    assert esme.request("enquire_link").status == 0
    esme.sock.sendall(struct.pack(">LLLL", 16, 0x00000099, 0, 4242))  # no such command
    assert esme.expect("generic_nack", sequence=4242).status == ESME_RINVCMDID
    unsupported = esme.send("query_sm", message_id="1", source_addr="1555")
    assert esme.expect("generic_nack", sequence=unsupported).status == ESME_RINVCMDID
    assert smsc.sessions()[0]["enquire_links"] == 1


def test_submit_answer_and_receipt(smsc: SmscPeer) -> None:
    with bound(smsc) as esme:
        # "Hi € [5]" in GSM 03.38: € and the brackets are ESC + code
        seq = esme.submit("4477001122", b"Hi \x1b\x65 \x1b\x3c5\x1b\x3e")
        resp = esme.expect("submit_sm_resp", sequence=seq)
        assert resp.status == 0
        message_id = resp.text("message_id")
        assert re.fullmatch(r"[0-9a-f]+", message_id) and not message_id.isdigit()
        receipt = esme.expect("deliver_sm")
        assert receipt.number("esm_class") == 0x04
        assert receipt.text("source_addr") == "4477001122"
        assert receipt.text("destination_addr") == "15005550006"
        assert receipt.text("receipted_message_id") == message_id
        assert receipt.number("message_state") == 2
        m = RECEIPT.fullmatch(receipt.field("short_message").decode("ascii"))
        assert m is not None
        assert m.group(1, 2, 5, 6) == (message_id, "001", "DELIVRD", "000")
        [submit] = smsc.submits()
        assert submit["text"] == "Hi € [5]" and submit["valid"]
        assert submit["message_id"] == message_id and submit["status"] == 0
        assert (submit["dest_addr_ton"], submit["dest_addr_npi"]) == (1, 1)
        assert submit["udh"] is None and submit["sar"] is None
        [delivery] = smsc.deliveries()
        assert delivery["kind"] == "receipt" and delivery["in_flight"]
        assert not delivery["acked"]
        esme.ack(receipt)
        smsc.wait_for_deliveries(lambda d: d[0]["acked"] and d[0]["resp_status"] == 0)


def test_receipt_forms_and_data_sm(smsc: SmscPeer) -> None:
    smsc.behaviour(
        message_ids="decimal",
        receipt_id_form="hex",
        receipt_command="data_sm",
        receipt_stat="UNDELIV",
        receipt_err=34,
    )
    with bound(smsc) as esme:
        resp = esme.expect("submit_sm_resp", sequence=esme.submit("15558675310", b"hello"))
        message_id = resp.text("message_id")
        assert message_id.isdigit()
        receipt = esme.expect("data_sm")
        assert receipt.number("esm_class") == 0x04
        assert receipt.text("receipted_message_id") == f"{int(message_id):x}"
        assert receipt.number("message_state") == 5
        m = RECEIPT.fullmatch(receipt.field("message_payload").decode("ascii"))
        assert m is not None
        assert m.group(1, 2, 5, 6, 7) == (f"{int(message_id):x}", "000", "UNDELIV", "034", "hello")
        esme.ack(receipt)

        smsc.behaviour(message_ids="hex", receipt_id_form="padded", receipt_tlvs=False,
                       receipt_command="deliver_sm", receipt_stat="DELIVRD")  # fmt: skip
        resp = esme.expect("submit_sm_resp", sequence=esme.submit("15558675310", b"again"))
        receipt = esme.expect("deliver_sm")
        assert receipt.field("receipted_message_id") is None
        assert receipt.field("message_state") is None
        quoted = receipt.field("short_message").decode("ascii").split()[0]
        assert quoted == "id:" + resp.text("message_id").zfill(16)


def test_receipt_before_resp_and_delays(smsc: SmscPeer) -> None:
    smsc.behaviour(receipt_before_resp=True, submit_resp_delay=0.3)
    with bound(smsc) as esme:
        seq = esme.submit("15558675310", b"early receipt")
        first = esme.read()
        assert first.command == "deliver_sm"
        resp = esme.expect("submit_sm_resp", sequence=seq)
        assert first.text("receipted_message_id") == resp.text("message_id")
        esme.ack(first)

        smsc.behaviour(receipt_before_resp=False, submit_resp_delay=0.5, receipt_delay=0.5)
        seq = esme.submit("15558675310", b"late")
        with pytest.raises(TimeoutError):
            esme.expect("submit_sm_resp", timeout=0.1)
        esme.expect("submit_sm_resp", sequence=seq)
        with pytest.raises(TimeoutError):
            esme.expect("deliver_sm", timeout=0.1)
        esme.ack(esme.expect("deliver_sm"))


def test_no_receipt_when_off_or_not_asked(smsc: SmscPeer) -> None:
    with bound(smsc) as esme:
        esme.expect("submit_sm_resp", sequence=esme.submit("1555", b"x", registered_delivery=0))
        esme.expect("submit_sm_resp", sequence=esme.submit("1555", b"x", registered_delivery=2))
        smsc.behaviour(receipts=False)
        esme.expect("submit_sm_resp", sequence=esme.submit("1555", b"x", registered_delivery=1))
        smsc.behaviour(receipts=True, receipt_stat="REJECTD")
        esme.expect("submit_sm_resp", sequence=esme.submit("1555", b"x", registered_delivery=2))
        assert esme.expect("deliver_sm").text("receipted_message_id")  # failure-only asked
        assert esme.request("enquire_link").status == 0  # the SMSC has handled all above
        assert [d["stat"] for d in smsc.deliveries()] == ["REJECTD"]


def test_reject_by_destination_prefix(smsc: SmscPeer) -> None:
    smsc.behaviour(reject_status=ESME_RINVDSTADR, reject_prefixes=["+44"])
    with bound(smsc) as esme:
        bad = esme.expect("submit_sm_resp", sequence=esme.submit("447700900123", b"x"))
        good = esme.expect("submit_sm_resp", sequence=esme.submit("15558675310", b"x"))
        assert (bad.status, good.status) == (ESME_RINVDSTADR, 0)
        smsc.behaviour(reject_status=ESME_RSYSERR, reject_prefixes=[])
        assert esme.expect("submit_sm_resp", sequence=esme.submit("1555", b"x")).status == 8
    statuses = [(s["destination_addr"], s["status"], s["message_id"]) for s in smsc.submits()]
    assert statuses[0] == ("447700900123", ESME_RINVDSTADR, None)
    assert statuses[1][1] == 0 and statuses[1][2]
    assert statuses[2] == ("1555", ESME_RSYSERR, None)


def test_throttling(smsc: SmscPeer) -> None:
    smsc.behaviour(throttle_next=2)
    with bound(smsc) as esme:
        seqs = [esme.submit("1555", b"t", registered_delivery=0) for _ in range(3)]
        statuses = [esme.expect("submit_sm_resp", sequence=s).status for s in seqs]
        assert statuses == [ESME_RTHROTTLED, ESME_RTHROTTLED, 0]
        assert smsc.behaviour()["throttle_next"] == 0

        smsc.behaviour(throttle_mps=3)
        burst = b"".join(
            encode("submit_sm", 100 + i, destination_addr="1555", short_message=b"b")
            for i in range(6)
        )
        esme.sock.sendall(burst)  # six in one write: well within one second
        statuses = [esme.expect("submit_sm_resp", sequence=100 + i).status for i in range(6)]
        assert statuses.count(ESME_RTHROTTLED) >= 3
        assert statuses[0] == 0


def test_drop_after_nth_submit_leaves_it_unanswered(smsc: SmscPeer) -> None:
    smsc.behaviour(drop_after_submits=3, submit_resp_delay=1.0)
    with bound(smsc) as esme:
        for _ in range(3):
            esme.submit("1555", b"w", registered_delivery=0)
        assert esme.closed_by_peer()
    submits = smsc.wait_for_submits(3)
    assert [s["responded"] for s in submits] == [False, False, False]
    assert submits[2]["status"] is None
    assert smsc.behaviour()["drop_after_submits"] == 0
    smsc.wait_for_sessions(lambda s: not s[0]["open"])
    with bound(smsc) as again:  # the SMSC takes the next connection as usual
        assert again.expect("submit_sm_resp", sequence=again.submit("1555", b"x")).status == 0


def test_drop_and_unbind_on_demand(smsc: SmscPeer) -> None:
    with bound(smsc) as esme:
        assert smsc.drop() == 1
        assert esme.closed_by_peer()
    with bound(smsc) as esme:
        assert smsc.unbind() == 1
        unbind = esme.expect("unbind")
        esme.send("unbind_resp", sequence=unbind.sequence)
        assert esme.closed_by_peer()
    with bound(smsc) as esme:
        assert esme.request("unbind").status == 0
        assert esme.closed_by_peer()
    assert [s["open"] for s in smsc.sessions()] == [False, False, False]


def test_unanswered_deliveries_are_sent_again_on_the_next_bind(smsc: SmscPeer) -> None:
    smsc.mo("+447700900123", "+15005550006", "first")
    [pending] = smsc.deliveries()
    assert pending["attempts"] == 0 and not pending["in_flight"]  # nobody bound yet
    with bound(smsc, "transmitter") as tx:  # a transmitter gets no deliver_sm
        assert tx.request("enquire_link").status == 0
        assert smsc.deliveries()[0]["attempts"] == 0
        with bound(smsc, "receiver") as rx:
            first = rx.expect("deliver_sm")
            assert first.field("short_message") == b"first"
    smsc.wait_for_deliveries(lambda d: not d[0]["in_flight"])
    with bound(smsc, "receiver") as rx:
        again = rx.expect("deliver_sm")
        assert again.field("short_message") == b"first"
        rx.ack(again, status=0x64)  # ESME_RX_T_APPN: try later
        smsc.wait_for_deliveries(lambda d: d[0]["resp_status"] == 0x64)
        assert rx.request("enquire_link").status == 0
    with bound(smsc, "receiver") as rx:
        rx.ack(rx.expect("deliver_sm"))
        [done] = smsc.wait_for_deliveries(lambda d: d[0]["acked"])
    assert (done["attempts"], done["resp_status"], done["kind"]) == (3, 0, "mo")
    assert (done["source_addr"], done["destination_addr"]) == ("447700900123", "15005550006")


def test_mo_gsm_with_8bit_udh_never_cuts_an_extension_char(smsc: SmscPeer) -> None:
    with bound(smsc) as esme:
        sent = smsc.mo("+447700900123", "+15005550006", "abc€de{f", max_part_len=4)
        assert sent["parts"] == 3
        parts = [esme.expect("deliver_sm") for _ in range(3)]
        for p in parts:
            esme.ack(p)
    ref = parts[0].field("short_message")[3]
    assert [p.field("short_message") for p in parts] == [
        bytes([5, 0, 3, ref, 3, 1]) + b"abc",
        bytes([5, 0, 3, ref, 3, 2]) + b"\x1b\x65de",
        bytes([5, 0, 3, ref, 3, 3]) + b"\x1b\x28f",
    ]
    assert {(p.number("esm_class"), p.number("data_coding")) for p in parts} == {(0x40, 0)}
    assert (parts[0].number("source_addr_ton"), parts[0].text("source_addr")) == (1, "447700900123")
    deliveries = smsc.deliveries()
    assert [d["text"] for d in deliveries] == ["abc", "€de", "{f"]
    assert [d["part"]["seq"] for d in deliveries] == [1, 2, 3]


def test_mo_ucs2_with_16bit_udh_keeps_surrogate_pairs(smsc: SmscPeer) -> None:
    with bound(smsc) as esme:
        smsc.mo("+447700900123", "+15005550006", "a😀b", encoding="ucs2", split="udh16",
                max_part_len=2)  # fmt: skip
        parts = [esme.expect("deliver_sm") for _ in range(3)]
    head = parts[0].field("short_message")[:5]
    assert head[:3] == bytes([6, 8, 4])
    assert [p.field("short_message")[5:] for p in parts] == [
        bytes([3, 1, 0x00, 0x61]),
        bytes([3, 2, 0xD8, 0x3D, 0xDE, 0x00]),
        bytes([3, 3, 0x00, 0x62]),
    ]
    assert {p.field("short_message")[:5] for p in parts} == {head}
    assert {p.number("data_coding") for p in parts} == {8}


def test_mo_latin1_with_sar_and_payload(smsc: SmscPeer) -> None:
    with bound(smsc) as esme:
        smsc.mo("Shop", "+15005550006", "Grüße!", encoding="latin1", split="sar", max_part_len=3)
        parts = [esme.expect("deliver_sm") for _ in range(2)]
        smsc.mo("+447700900123", "+15005550006", "ok ü", encoding="latin1", split="payload")
        payload = esme.expect("deliver_sm")
    assert [p.field("short_message") for p in parts] == [b"Gr\xfc", b"\xdfe!"]
    assert [p.number("sar_segment_seqnum") for p in parts] == [1, 2]
    assert {p.number("sar_total_segments") for p in parts} == {2}
    assert parts[0].number("sar_msg_ref_num") == parts[1].number("sar_msg_ref_num")
    assert {(p.number("esm_class"), p.number("data_coding")) for p in parts} == {(0, 3)}
    assert (parts[0].number("source_addr_ton"), parts[0].text("source_addr")) == (5, "Shop")
    assert not payload.field("short_message")
    assert payload.field("message_payload") == b"ok \xfc"


def test_mo_long_text_splits_by_default_and_bad_requests_fail(smsc: SmscPeer) -> None:
    assert smsc.mo("+1555", "+1500", "x" * 160)["parts"] == 1
    assert smsc.mo("+1555", "+1500", "x" * 161)["parts"] == 2  # 153 + 8
    assert smsc.mo("+1555", "+1500", "ж" * 71, encoding="ucs2")["parts"] == 2
    for bad in (
        {"from": "+1", "to": "+2", "body": "ж"},  # not GSM
        {"from": "+1", "to": "+2", "body": "x", "encoding": "utf8"},
        {"from": "+1", "to": "+2", "body": "x", "split": "none"},
        {"to": "+2", "body": "x"},
    ):
        response = httpx.post(smsc.control_url + "/mo", json=bad)
        assert response.status_code == 400 and response.json()["error"], bad


def test_submit_decoding_of_udh_sar_payload_and_cut_chars(smsc: SmscPeer) -> None:
    with bound(smsc) as esme:
        seqs = [
            esme.submit("1555", bytes([6, 8, 4, 0x12, 0x34, 2, 1]) + "Zoë 😀".encode("utf-16-be"),
                        esm_class=0x40, data_coding=8),
            esme.submit("1555", b"\xe9t\xe9", data_coding=3, sar_msg_ref_num=7,
                        sar_total_segments=2, sar_segment_seqnum=2),
            esme.submit("1555", "a😀".encode("utf-16-be")[:4], data_coding=8),  # cut pair
            esme.submit("1555", b"ab\x1b", data_coding=0),  # cut extension char
        ]  # fmt: skip
        payload_seq = esme.send("data_sm", destination_addr="1555", data_coding=0,
                                message_payload=b"\x00 is \x02", registered_delivery=0)  # fmt: skip
        for seq in seqs:
            assert esme.expect("submit_sm_resp", sequence=seq).status == 0
        assert esme.expect("data_sm_resp", sequence=payload_seq).text("message_id")
    ucs2, sar, cut_pair, cut_ext, payload = smsc.submits()
    assert (ucs2["text"], ucs2["udh"], ucs2["valid"]) == (
        "Zoë 😀",
        {"ref": 0x1234, "total": 2, "seq": 1, "bits": 16},
        True,
    )
    assert (sar["text"], sar["sar"], sar["data_coding"]) == (
        "été",
        {"ref": 7, "total": 2, "seq": 2},
        3,
    )
    assert not cut_pair["valid"] and not cut_ext["valid"]
    assert (payload["command"], payload["payload"], payload["text"]) == ("data_sm", True, "@ is $")


def test_behaviour_patches_are_checked_and_reset(smsc: SmscPeer) -> None:
    start = smsc.behaviour()
    for bad in ({"nope": 1}, {"receipt_stat": "FINE"}, {"receipt_delay": -1},
                {"receipts": "yes"}, {"reject_prefixes": "44"}, {"throttle_next": 1.5}):  # fmt: skip
        response = httpx.post(smsc.control_url + "/behaviour", json={"throttle_next": 5, **bad})
        assert response.status_code == 400 and response.json()["error"], bad
    assert smsc.behaviour() == start  # all or nothing
    assert smsc.behaviour(receipt_delay=2, reject_prefixes=["+44"])["receipt_delay"] == 2
    smsc.reset()
    assert smsc.behaviour() == start
    assert smsc.submits() == [] and smsc.deliveries() == []


@pytest.mark.parametrize("kind", ["sim", "node"])
def test_start_up_flags_set_behaviours(kind: str, tmp_path: Path) -> None:
    peer = start_peer(kind, tmp_path, "--receipt-stat", "EXPIRED", "--no-receipts",
                      "--reject-prefixes", "+44,33", "--throttle-mps", "50",
                      "--reject-status", "0x0b")  # fmt: skip
    try:
        expected = {"receipt_stat": "EXPIRED", "receipts": False, "throttle_mps": 50,
                    "reject_prefixes": ["+44", "33"], "reject_status": 11}  # fmt: skip
        assert {k: peer.behaviour()[k] for k in expected} == expected
        peer.behaviour(receipts=True)
        peer.reset()
        assert peer.behaviour()["receipts"] is False
        assert peer.http.get("/healthz").json() == {
            "ok": True,
            "implementation": kind,
            "smpp_port": peer.port,
        }
    finally:
        assert peer.stop() == 0


def test_both_peers_answer_the_same_shapes(smsc: SmscPeer) -> None:
    """The JSON the connector suite reads has the same keys from either peer."""
    with bound(smsc) as esme:
        esme.expect("submit_sm_resp", sequence=esme.submit("1555", b"shape"))
        esme.ack(esme.expect("deliver_sm"))
        smsc.mo("+1555", "+1500", "mo")
        esme.ack(esme.expect("deliver_sm"))
        wait_until(lambda: all(d["acked"] for d in smsc.deliveries()))
    assert set(smsc.submits()[0]) == {
        "session", "sequence", "command", "service_type", "source_addr", "source_addr_ton",
        "source_addr_npi", "destination_addr", "dest_addr_ton", "dest_addr_npi", "esm_class",
        "data_coding", "registered_delivery", "udh", "sar", "payload", "text", "valid",
        "message_id", "status", "responded",
    }  # fmt: skip
    delivery_keys = {
        "id", "kind", "command", "source_addr", "destination_addr", "esm_class", "data_coding",
        "text", "message_id", "receipt_id", "stat", "part", "session", "sequence", "attempts",
        "resp_status", "acked", "in_flight",
    }  # fmt: skip
    assert [set(d) for d in smsc.deliveries()] == [delivery_keys, delivery_keys]
    assert set(smsc.sessions()[0]) == {
        "id",
        "peer",
        "bind",
        "system_id",
        "bind_status",
        "bound",
        "open",
        "enquire_links",
    }


def test_npm_smpp_client_understands_the_peer(smsc: SmscPeer) -> None:
    """Submits encoded and receipts/MO decoded by the npm package's own codec."""
    node = node_ready()
    mo_ucs2 = "Hi 👋 there, ünïcödé and more"
    mo_gsm = "Braces {x} and €5 [ok]"
    ucs2 = smsc.mo("+447700900123", "+15005550006", mo_ucs2, encoding="ucs2", split="udh16",
                   max_part_len=8)  # fmt: skip
    gsm = smsc.mo("+447700900123", "+15005550006", mo_gsm, max_part_len=7)
    env = {**os.environ, "SMSC_PORT": str(smsc.port), "SYSTEM_ID": smsc.system_id,
           "PASSWORD": smsc.password, "MO_PARTS": str(ucs2["parts"] + gsm["parts"])}  # fmt: skip
    out = subprocess.run([node, "esme.mjs"], cwd=NODE_DIR, env=env, capture_output=True,
                         text=True, timeout=60, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    seen = orjson.loads(out.stdout.strip().splitlines()[-1])

    submits = smsc.submits()
    assert [s["text"] for s in submits] == ["Zoë 😀 ", "Ωμέγα", "Price: {10€} [ok] ~ ^_^"]
    assert [s["udh"] for s in submits][:2] == [
        {"ref": 0x0102, "total": 2, "seq": 1, "bits": 16},
        {"ref": 0x0102, "total": 2, "seq": 2, "bits": 16},
    ]
    assert all(s["valid"] for s in submits)
    ids = sorted(s["message_id"] for s in submits)
    assert sorted(r["id"] for r in seen["resps"]) == ids
    assert sorted(r["id"] for r in seen["receipts"]) == ids
    for receipt in seen["receipts"]:
        assert RECEIPT.fullmatch(receipt["text"]) and receipt["state"] == 2
    assert "text:Price: {10€} [ok] ~" in " ".join(r["text"] for r in seen["receipts"])

    texts = [m["text"] for m in seen["mo"]]
    assert "".join(texts[: ucs2["parts"]]) == mo_ucs2
    assert "".join(texts[ucs2["parts"] :]) == mo_gsm
    assert [m["udh"][0][:2] for m in seen["mo"]] == (
        [[8, 4]] * ucs2["parts"] + [[0, 3]] * gsm["parts"]
    )
    assert all(d["acked"] for d in smsc.deliveries())


def test_smsc_sim_refuses_bad_flags() -> None:
    out = subprocess.run([SMSGATE, "smsc-sim", "--port", "0", "--receipt-stat", "FINE"],
                         capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert out.returncode == 2
    assert "receipt_stat must be one of DELIVRD" in out.stderr
