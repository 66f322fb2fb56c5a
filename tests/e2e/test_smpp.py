"""The SMPP connector end to end: the installed ``smsgate serve`` with an smpp:// carrier,
driven by the official SDK, against two independent SMSCs on loopback (``smsgate smsc-sim``
and the npm ``smpp`` package's server; see tests/smpp_peers.py). Every test runs on both."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import Launcher, Server, sdk, wait_until
from tests.fakes.receiver import Receiver
from tests.smpp_peers import SmscPeer

PHONE = "+15558675310"
FAST = "&enquire_link=2&reconnect_min=0.2&reconnect_max=0.5&response_timeout=3"


class Gateway:
    """A server whose carrier is the peer, with its main account's SDK client."""

    def __init__(self, server: Server, smsc: SmscPeer, like: Gateway | None = None) -> None:
        """``like``: a gateway on the same data dir before a restart (same account)."""
        self.server = server
        self.smsc = smsc
        sid, token = (like.client.username, like.client.password) if like else (None, None)
        self.client: Client = sdk(server, sid or server.account_sid, token or server.auth_token)
        self.number = like.number if like else server.test_number

    def send(self, body: str = "Hello over SMPP", to: str = PHONE, **extra: Any) -> Any:
        return self.client.messages.create(to=to, from_=self.number, body=body, **extra)

    def fetch(self, sid: str) -> Any:
        return self.client.messages(sid).fetch()

    def wait_status(self, sid: str, *statuses: str, timeout: float = 20) -> Any:
        found: list[Any] = []

        def reached() -> bool:
            found[:] = [self.fetch(sid)]
            return found[0].status in statuses

        wait_until(reached, timeout)
        return found[0]


def start_gateway(
    launch: Launcher, tmp_path: Path, smsc: SmscPeer, options: str = "", **env: str
) -> Server:
    return launch(
        tmp_path / "data",
        env={
            "SMSGATE_CARRIER": smsc.url + "?window=10" + FAST + options,
            "SMSGATE_SENDER_MPS": "0",
            "SMSGATE_LEASE_SECONDS": "4",
            **env,
        },
    )


@pytest.fixture
def gateway(launch: Launcher, tmp_path: Path, smsc: SmscPeer) -> Iterator[Gateway]:
    server = start_gateway(launch, tmp_path, smsc)
    yield Gateway(server, smsc)
    assert server.stop() == 0, server.log.read_text()


def submits_for(smsc: SmscPeer, destination: str = PHONE.removeprefix("+")) -> list[Any]:
    return [s for s in smsc.submits() if s["destination_addr"] == destination]


def test_a_message_is_submitted_as_e164_and_delivered(
    gateway: Gateway, smsc: SmscPeer, receiver: Receiver
) -> None:
    sent = gateway.send(status_callback=receiver.url("/status"))
    assert sent.status == "queued"
    done = gateway.wait_status(sent.sid, "delivered")
    assert done.error_code is None
    assert done.date_sent is not None
    assert done.price is not None
    [submit] = smsc.wait_for_submits(1)
    assert submit["source_addr"] == gateway.number.removeprefix("+")
    assert (submit["source_addr_ton"], submit["source_addr_npi"]) == (1, 1)
    assert (submit["dest_addr_ton"], submit["dest_addr_npi"]) == (1, 1)
    assert submit["destination_addr"] == PHONE.removeprefix("+")
    assert submit["registered_delivery"] & 0x01
    assert submit["data_coding"] == 0
    assert submit["text"] == "Hello over SMPP"
    wait_until(lambda: receiver.statuses(sent.sid)[-1:] == ["delivered"])
    assert receiver.statuses(sent.sid) == ["sending", "sent", "delivered"]
    # the receipt was acknowledged with deliver_sm_resp OK
    smsc.wait_for_deliveries(lambda ds: ds and all(d["acked"] for d in ds))


@pytest.mark.parametrize(
    ("body", "coding", "parts"),
    [
        ("€" * 100 + "x" * 200, 0, 3),  # GSM with extension characters, never split apart
        ("😀 smsgate " * 20, 8, 4),  # UCS-2, surrogate pairs kept whole
    ],
)
def test_long_messages_go_as_concatenated_parts(
    gateway: Gateway, smsc: SmscPeer, body: str, coding: int, parts: int
) -> None:
    sent = gateway.send(body)
    done = gateway.wait_status(sent.sid, "delivered")
    submits = submits_for(smsc)
    assert len(submits) == parts
    assert done.num_segments == str(parts)
    assert {s["data_coding"] for s in submits} == {coding}
    concat = [s["udh"] for s in submits]
    assert {c["bits"] for c in concat} == {8}
    assert [c["seq"] for c in concat] == list(range(1, parts + 1))
    assert {c["total"] for c in concat} == {parts}
    assert len({c["ref"] for c in concat}) == 1
    assert "".join(s["text"] for s in submits) == body


def test_other_concatenation_forms(launch: Launcher, tmp_path: Path, smsc: SmscPeer) -> None:
    for concat in ("udh16", "sar", "payload"):
        smsc.reset()
        server = start_gateway(launch, tmp_path / concat, smsc, f"&concat={concat}")
        try:
            gateway = Gateway(server, smsc)
            body = "ж" * 150  # UCS-2: 66 or 67 a part
            gateway.wait_status(gateway.send(body).sid, "delivered")
            submits = submits_for(smsc)
            assert "".join(s["text"] for s in submits) == body
            if concat == "payload":
                assert [s["payload"] for s in submits] == [True]  # one submit, whole body
                continue
            assert len(submits) >= 3
            if concat == "sar":
                assert all(s["sar"] and s["udh"] is None for s in submits)
            else:
                assert {s["udh"]["bits"] for s in submits} == {16}
        finally:
            assert server.stop() == 0


@pytest.mark.parametrize(
    ("stat", "status", "code"),
    [("UNDELIV", "undelivered", 30003), ("REJECTD", "undelivered", 30007)],
)
def test_receipts_that_are_not_delivered(
    gateway: Gateway, smsc: SmscPeer, stat: str, status: str, code: int
) -> None:
    smsc.behaviour(receipt_stat=stat, receipt_err=34)
    done = gateway.wait_status(gateway.send().sid, status)
    assert done.error_code == code


def test_a_permanent_submit_error_fails_the_message_once(gateway: Gateway, smsc: SmscPeer) -> None:
    smsc.behaviour(reject_status=0x0B)  # ESME_RINVDSTADR
    done = gateway.wait_status(gateway.send().sid, "failed")
    assert done.error_code == 30005
    assert len(submits_for(smsc)) == 1  # never retried


def test_throttling_slows_down_and_then_delivers(gateway: Gateway, smsc: SmscPeer) -> None:
    smsc.behaviour(throttle_next=3)
    done = gateway.wait_status(gateway.send().sid, "delivered")
    statuses = [s["status"] for s in submits_for(smsc)]
    assert statuses == [0x58, 0x58, 0x58, 0]
    assert done.error_code is None


def test_a_refused_bind_keeps_messages_queued_until_it_recovers(
    launch: Launcher, tmp_path: Path, smsc: SmscPeer
) -> None:
    smsc.behaviour(bind_status=0x0E)  # ESME_RINVPASWD
    server = start_gateway(launch, tmp_path, smsc)
    try:
        gateway = Gateway(server, smsc)
        sent = gateway.send()
        wait_until(lambda: "bind to" in server.log.read_text())
        assert gateway.fetch(sent.sid).status == "queued"
        assert submits_for(smsc) == []
        smsc.behaviour(bind_status=0)
        gateway.wait_status(sent.sid, "delivered")
        assert len(submits_for(smsc)) == 1
    finally:
        assert server.stop() == 0


def test_a_connection_dropped_mid_window_loses_nothing(gateway: Gateway, smsc: SmscPeer) -> None:
    smsc.behaviour(submit_resp_delay=0.3, drop_after_submits=3)
    sids = [gateway.send(f"message {i}").sid for i in range(6)]
    for sid in sids:
        gateway.wait_status(sid, "delivered", timeout=30)
    texts = [s["text"] for s in submits_for(smsc)]
    assert set(texts) == {f"message {i}" for i in range(6)}


def test_a_receipt_may_overtake_its_submit_resp(gateway: Gateway, smsc: SmscPeer) -> None:
    smsc.behaviour(receipt_before_resp=True, submit_resp_delay=0.2)
    gateway.wait_status(gateway.send().sid, "delivered")


@pytest.mark.parametrize("form", ["padded", "decimal"])
def test_receipt_ids_in_another_form_still_match(
    gateway: Gateway, smsc: SmscPeer, form: str
) -> None:
    smsc.behaviour(receipt_id_form=form, receipt_tlvs=False)
    gateway.wait_status(gateway.send().sid, "delivered")


def test_receipts_as_data_sm(gateway: Gateway, smsc: SmscPeer) -> None:
    smsc.behaviour(receipt_command="data_sm")
    gateway.wait_status(gateway.send().sid, "delivered")


@pytest.mark.parametrize(
    ("encoding", "split", "body"),
    [
        ("gsm", "udh8", "Hello from a phone, with {braces} and € " * 6),
        ("ucs2", "udh16", "Привет 😀 " * 20),
        ("gsm", "sar", "split by SAR " * 20),
        ("latin1", "udh8", "café"),
    ],
)
def test_mobile_originated_messages_reach_the_webhook(
    gateway: Gateway, smsc: SmscPeer, receiver: Receiver, encoding: str, split: str, body: str
) -> None:
    numbers = gateway.client.incoming_phone_numbers.list(phone_number=gateway.number)
    numbers[0].update(sms_url=receiver.url("/sms"))
    injected = smsc.mo(PHONE, gateway.number, body, encoding=encoding, split=split)
    wait_until(lambda: receiver.hits)
    hit = receiver.hits[-1]
    assert hit.params["Body"] == body
    assert hit.params["From"] == PHONE
    assert hit.params["To"] == gateway.number
    assert hit.params["NumSegments"] == str(injected["parts"])
    [message] = [
        m for m in gateway.client.messages.list(to=gateway.number) if m.direction == "inbound"
    ]
    assert message.body == body
    assert message.status == "received"
    smsc.wait_for_deliveries(
        lambda ds: len(ds) == injected["parts"] and all(d["acked"] for d in ds)
    )


def test_stop_over_smpp_blocks_further_sends(gateway: Gateway, smsc: SmscPeer) -> None:
    smsc.mo(PHONE, gateway.number, "STOP")
    wait_until(
        lambda: any(m.body == "STOP" for m in gateway.client.messages.list(to=gateway.number))
    )
    with pytest.raises(TwilioRestException) as refused:
        gateway.send()
    assert refused.value.code == 21610


def test_a_message_to_a_number_nobody_owns_is_acknowledged_and_logged(
    gateway: Gateway, smsc: SmscPeer
) -> None:
    smsc.mo(PHONE, "+15005559999", "anyone there?")
    smsc.wait_for_deliveries(lambda ds: ds and all(d["acked"] for d in ds))
    wait_until(lambda: "dropped" in gateway.server.log.read_text())
    assert gateway.client.messages.list(to="+15005559999") == []


def test_sigkill_with_submits_in_flight_resubmits_only_what_was_not_confirmed(
    launch: Launcher, tmp_path: Path, smsc: SmscPeer
) -> None:
    server = start_gateway(launch, tmp_path, smsc)
    gateway = Gateway(server, smsc)
    confirmed = [gateway.send(f"confirmed {i}").sid for i in range(3)]
    for sid in confirmed:
        gateway.wait_status(sid, "delivered")
    smsc.behaviour(submit_resp_delay=30)  # the next submits stay unanswered
    pending = [gateway.send(f"pending {i}").sid for i in range(3)]
    smsc.wait_for_submits(6)
    server.stop(signal.SIGKILL)
    smsc.drop()
    smsc.behaviour(submit_resp_delay=0)
    server = start_gateway(launch, tmp_path, smsc)
    try:
        gateway = Gateway(server, smsc, like=gateway)
        for sid in confirmed + pending:
            gateway.wait_status(sid, "delivered", timeout=30)
        texts = [s["text"] for s in submits_for(smsc)]
        for i in range(3):
            assert texts.count(f"confirmed {i}") == 1
            assert texts.count(f"pending {i}") == 2
    finally:
        assert server.stop() == 0


def test_a_transmitter_and_receiver_pair(launch: Launcher, tmp_path: Path, smsc: SmscPeer) -> None:
    server = start_gateway(launch, tmp_path, smsc, "&bind=txrx")
    try:
        gateway = Gateway(server, smsc)
        sessions = smsc.wait_for_sessions(lambda ss: len(ss) == 2)
        assert sorted(s["bind"] for s in sessions) == ["receiver", "transmitter"]
        gateway.wait_status(gateway.send().sid, "delivered")
        smsc.mo(PHONE, gateway.number, "over the receiver")
        wait_until(
            lambda: any(
                m.body == "over the receiver"
                for m in gateway.client.messages.list(to=gateway.number)
            )
        )
    finally:
        assert server.stop() == 0


def test_an_unbind_from_the_smsc_is_followed_by_a_new_bind(
    gateway: Gateway, smsc: SmscPeer
) -> None:
    gateway.wait_status(gateway.send("before").sid, "delivered")
    assert smsc.unbind() >= 1
    wait_until(lambda: gateway.server.log.read_text().count("SMPP smpp/trx bound") >= 2)
    gateway.wait_status(gateway.send("after").sid, "delivered")
    assert [s["text"] for s in submits_for(smsc)] == ["before", "after"]


def test_a_receipt_that_never_comes_ends_undelivered(
    launch: Launcher, tmp_path: Path, smsc: SmscPeer
) -> None:
    smsc.behaviour(receipts=False)
    server = start_gateway(launch, tmp_path, smsc, "&receipt_timeout=1")
    try:
        gateway = Gateway(server, smsc)
        done = gateway.wait_status(gateway.send().sid, "undelivered")
        assert done.error_code == 30008
    finally:
        assert server.stop() == 0


def test_an_mms_goes_as_text_with_its_media_links(
    gateway: Gateway, smsc: SmscPeer, media_host: Any
) -> None:
    urls = [media_host.url("/blob/one.png"), media_host.url("/blob/two.pdf")]
    sent = gateway.send("See these", media_url=urls)
    assert sent.sid.startswith("MM")
    gateway.wait_status(sent.sid, "delivered")
    (submit,) = submits_for(smsc)
    assert submit["text"] == "See these\n" + "\n".join(urls)
    assert len(gateway.client.messages(sent.sid).media.list()) == 2


def test_a_carrier_that_takes_no_mms_fails_them_with_30011(
    launch: Launcher, tmp_path: Path, smsc: SmscPeer, media_host: Any
) -> None:
    server = start_gateway(launch, tmp_path, smsc, "&mms=reject")
    try:
        gateway = Gateway(server, smsc)
        mms = gateway.send("pic", media_url=[media_host.url("/blob/x.png")])
        failed = gateway.wait_status(mms.sid, "failed")
        assert (failed.error_code, failed.error_message) == (
            30011,
            "MMS not supported by the receiving phone number in this region",
        )
        sms = gateway.send("plain text still goes", to="+15558675311")
        gateway.wait_status(sms.sid, "delivered")
        assert submits_for(smsc) == []
    finally:
        assert server.stop() == 0, server.log.read_text()
