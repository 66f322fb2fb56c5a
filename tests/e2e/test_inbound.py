"""Inbound messages: injection (API and CLI), signed webhooks, fallback, TwiML replies, opt-out."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from tests.conftest import (
    SMSGATE,
    Launcher,
    Server,
    Tenant,
    make_tenant,
    random_number,
    sdk,
    wait_until,
)
from tests.fakes.media_host import MediaHost
from tests.fakes.receiver import Hit, Receiver

PHONE = "+15558675310"


def inject(tenant: Tenant, body: str, *, sender: str = PHONE, **extra: Any) -> httpx.Response:
    data: dict[str, Any] = {"From": sender, "To": tenant.number, "Body": body, **extra}
    return tenant.http.post("/simulator/inbound", data=data)


def received(tenant: Tenant, body: str, *, sender: str = PHONE, **extra: Any) -> dict[str, Any]:
    response = inject(tenant, body, sender=sender, **extra)
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


def set_webhook(tenant: Tenant, **fields: str) -> None:
    tenant.client.incoming_phone_numbers.list(phone_number=tenant.number)[0].update(**fields)


def one_hit(receiver: Receiver, sid: str) -> Hit:
    return wait_until(lambda: (hits := receiver.for_message(sid)) and hits[0])


def attempts(server: Server, sid: str) -> list[tuple[Any, ...]]:
    return server.query(
        "SELECT url, status_code, error FROM webhook_attempts WHERE message_sid = ? ORDER BY id",
        (sid,),
    )


def replies_to(tenant: Tenant, to: str) -> list[Any]:
    return [
        m
        for m in tenant.client.messages.list(to=to, from_=tenant.number)
        if m.direction == "outbound-reply"
    ]


def test_an_injected_message_is_stored_and_its_webhook_signed_with_every_parameter(
    server: Server, tenant: Tenant, receiver: Receiver, media_host: MediaHost
) -> None:
    url = receiver.url("/ok/sms?tag=1")
    set_webhook(tenant, sms_url=url)
    media = [media_host.url("/blob/cat.jpg"), media_host.url("/blob/b.png?x=1")]
    body = received(tenant, "Hello there", MediaUrl=media)
    assert body["direction"] == "inbound"
    assert body["status"] == "received"
    assert body["num_media"] == "2"
    assert body["num_segments"] == "1"
    assert body["sid"].startswith("MM")
    assert (body["from"], body["to"], body["account_sid"]) == (PHONE, tenant.number, tenant.sid)

    hit = one_hit(receiver, body["sid"])
    assert hit.method == "POST"
    assert hit.query == [("tag", "1")]
    assert RequestValidator(tenant.token).validate(
        url, hit.params, hit.headers["X-Twilio-Signature"]
    )
    p = hit.params
    sid = body["sid"]
    assert (p["MessageSid"], p["SmsSid"], p["SmsMessageSid"]) == (sid, sid, sid)
    assert p["AccountSid"] == tenant.sid
    assert (p["From"], p["To"], p["Body"]) == (PHONE, tenant.number, "Hello there")
    assert (p["NumMedia"], p["NumSegments"], p["SmsStatus"]) == ("2", "1", "received")
    assert p["ApiVersion"] == "2010-04-01"
    # media point at the stored copies (tests/e2e/test_media.py checks them in detail)
    stored = server.base_url + tenant.url(f"/Messages/{sid}/Media/ME")
    assert p["MediaUrl0"].startswith(stored) and p["MediaUrl1"].startswith(stored)
    assert (p["MediaContentType0"], p["MediaContentType1"]) == ("image/jpeg", "image/png")
    assert (p["FromCountry"], p["ToCountry"]) == ("US", "US")
    for name in ("FromState", "FromCity", "FromZip", "ToState", "ToCity", "ToZip"):
        assert name in p
    assert "MessagingServiceSid" not in p

    # date_sent is when the webhook was requested.
    fetched = wait_until(
        lambda: (m := tenant.client.messages(sid).fetch()).date_sent is not None and m
    )
    assert fetched.direction == "inbound"
    assert fetched.status == "received"
    assert sid in [m.sid for m in tenant.client.messages.list(to=tenant.number)]


def test_a_get_webhook_is_signed_over_its_query(tenant: Tenant, receiver: Receiver) -> None:
    url = receiver.url("/ok/get")
    set_webhook(tenant, sms_url=url, sms_method="GET")
    sid = received(tenant, "via GET")["sid"]
    hit = one_hit(receiver, sid)
    assert hit.method == "GET"
    assert hit.params["Body"] == "via GET"
    signed = RequestValidator(tenant.token).compute_signature(url + "?" + urlencode(hit.query), {})
    assert hit.headers["X-Twilio-Signature"] == signed


def test_without_a_webhook_the_message_is_sent_when_it_arrives(tenant: Tenant) -> None:
    body = received(tenant, "nobody listens")
    assert body["date_sent"] is not None


def test_the_cli_injects_into_a_running_server(
    server: Server, tenant: Tenant, receiver: Receiver, media_host: MediaHost
) -> None:
    url = receiver.url("/ok/cli")
    set_webhook(tenant, sms_url=url)
    out = subprocess.run(
        [
            SMSGATE,
            "simulate",
            "inbound",
            *server.store_flags,
            "--from",
            PHONE,
            "--to",
            tenant.number,
            "--body",
            "from the CLI",
            "--media-url",
            media_host.url("/blob/x.gif"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    message = orjson.loads(out.stdout)
    assert (message["direction"], message["status"], message["num_media"]) == (
        "inbound",
        "received",
        "1",
    )
    hit = one_hit(receiver, message["sid"])
    assert hit.params["Body"] == "from the CLI"
    assert hit.params["MediaContentType0"] == "image/gif"
    assert RequestValidator(tenant.token).validate(
        url, hit.params, hit.headers["X-Twilio-Signature"]
    )
    assert tenant.client.messages(message["sid"]).fetch().direction == "inbound"


def test_the_cli_refuses_a_number_nobody_owns(server: Server) -> None:
    out = subprocess.run(
        [
            SMSGATE,
            "simulate",
            "inbound",
            *server.store_flags,
            "--from",
            PHONE,
            "--to",
            random_number(),
            "--body",
            "x",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 2
    assert "20404" in out.stderr


def test_the_fallback_url_is_used_when_the_sms_url_fails(
    server: Server, tenant: Tenant, receiver: Receiver
) -> None:
    fallback = receiver.answer(
        "/fallback", "<Response><Message>from the fallback</Message></Response>"
    )
    set_webhook(
        tenant,
        sms_url=receiver.url("/fail/sms"),
        sms_fallback_url=fallback,
        sms_fallback_method="POST",
    )
    sid = received(tenant, "anyone there?")["sid"]
    wait_until(lambda: [h.path for h in receiver.for_message(sid)] == ["/fail/sms", "/fallback"])
    hit = receiver.for_message(sid)[1]
    assert RequestValidator(tenant.token).validate(
        fallback, hit.params, hit.headers["X-Twilio-Signature"]
    )
    replies = wait_until(lambda: replies_to(tenant, PHONE))
    assert [r.body for r in replies] == ["from the fallback"]
    logged = attempts(server, sid)
    assert [(u, s) for u, s, _ in logged] == [(receiver.url("/fail/sms"), 500), (fallback, 200)]


@pytest.mark.parametrize(
    ("answer", "content_type"),
    [
        ("<Response><Message>unclosed</Response>", "text/xml"),  # malformed XML
        ("<html><body>Thanks!</body></html>", "text/html"),  # XML, but not a <Response>
        ("OK", "application/xml"),  # says XML, is not
    ],
)
def test_a_2xx_answer_that_is_not_twiml_fails_over_to_the_fallback(
    server: Server, tenant: Tenant, receiver: Receiver, answer: str, content_type: str
) -> None:
    primary = receiver.answer("/broken", answer, content_type=content_type)
    fallback = receiver.answer("/rescue", "<Response><Message>rescued</Message></Response>")
    set_webhook(tenant, sms_url=primary, sms_fallback_url=fallback)
    sid = received(tenant, "hello?")["sid"]
    wait_until(lambda: [h.path for h in receiver.for_message(sid)] == ["/broken", "/rescue"])
    replies = wait_until(lambda: replies_to(tenant, PHONE))
    assert [r.body for r in replies] == ["rescued"]
    (first_url, first_status, first_error), (second_url, second_status, second_error) = attempts(
        server, sid
    )
    assert (first_url, first_status, second_url, second_status) == (primary, 200, fallback, 200)
    assert first_error.startswith("12100: ")  # Twilio's "Document parse failure"
    assert second_error is None


def test_when_the_fallback_answers_malformed_twiml_too_nothing_is_sent(
    server: Server, tenant: Tenant, receiver: Receiver
) -> None:
    primary = receiver.answer("/broken-1", "<Response><Message>x</Response>")
    fallback = receiver.answer("/broken-2", "<Reply>not TwiML</Reply>", content_type="text/xml")
    set_webhook(tenant, sms_url=primary, sms_fallback_url=fallback)
    sid = received(tenant, "hello?")["sid"]
    logged = wait_until(lambda: len(found := attempts(server, sid)) == 2 and found)
    assert [(u, s) for u, s, _ in logged] == [(primary, 200), (fallback, 200)]
    assert all(error.startswith("12100: ") for _, _, error in logged)
    # The webhook was requested (date_sent is set) and the server carries on.
    assert tenant.client.messages(sid).fetch().date_sent is not None
    assert replies_to(tenant, PHONE) == []
    assert server.healthy()
    later = receiver.answer("/fine", "<Response><Message>fine</Message></Response>")
    set_webhook(tenant, sms_url=later, sms_fallback_url="")
    received(tenant, "and now?")
    assert [r.body for r in wait_until(lambda: replies_to(tenant, PHONE))] == ["fine"]


@pytest.mark.parametrize(
    ("answer", "content_type"),
    [
        ("OK, thanks", "text/plain"),
        ("", "text/xml"),
        ("", "text/plain"),
        ("<Response/>", "text/xml"),
    ],
)
def test_an_empty_or_non_xml_answer_is_not_a_failure(
    server: Server, tenant: Tenant, receiver: Receiver, answer: str, content_type: str
) -> None:
    primary = receiver.answer("/plain", answer, content_type=content_type)
    set_webhook(tenant, sms_url=primary, sms_fallback_url=receiver.url("/ok/never"))
    sid = received(tenant, "hello?")["sid"]
    logged = wait_until(lambda: attempts(server, sid))
    assert logged == [(primary, 200, None)]
    assert [h.path for h in receiver.for_message(sid)] == ["/plain"]
    assert replies_to(tenant, PHONE) == []


def test_a_hanging_sms_url_costs_bounded_time_and_holds_back_no_one(
    server: Server, tenant: Tenant, receiver: Receiver, main_client: Any
) -> None:
    fallback = receiver.answer(
        "/after-hang", "<Response><Message>late but here</Message></Response>"
    )
    # /slow answers after 30 s; the fragment gives up after 5 s, without retrying.
    set_webhook(tenant, sms_url=receiver.url("/slow/sms#tt=5000&rc=0"), sms_fallback_url=fallback)
    hung = received(tenant, "anyone?")["sid"]
    wait_until(lambda: receiver.for_message(hung))
    # Meanwhile another account's message goes out at once.
    tenants = make_tenant(server, main_client)
    other = next(tenants)
    set_webhook(other, sms_url=receiver.url("/ok/other"))
    quick = received(other, "hello")["sid"]
    one_hit(receiver, quick)
    tenants.close()
    assert [h.path for h in receiver.for_message(hung)] == ["/slow/sms"]
    replies = wait_until(lambda: replies_to(tenant, PHONE), timeout=30)
    assert [r.body for r in replies] == ["late but here"]
    (url, status, error), fell_back = attempts(server, hung)
    assert (url, status) == (receiver.url("/slow/sms"), None)
    assert error.startswith("timeout")
    assert fell_back == (fallback, 200, None)


def test_a_twiml_reply_becomes_a_delivered_outbound_reply(
    tenant: Tenant, receiver: Receiver, media_host: MediaHost
) -> None:
    other = "+15558675399"
    picture = media_host.url("/blob/p.png")
    url = receiver.answer(
        "/twiml",
        "<?xml version='1.0' encoding='UTF-8'?><Response><Message>Thanks!</Message>"
        f"<Message to='{other}'><Body>Copy</Body><Media>{picture}</Media></Message>"
        "</Response>",
        content_type="text/xml; charset=utf-8",
    )
    set_webhook(tenant, sms_url=url)
    received(tenant, "hi")
    reply = wait_until(lambda: replies_to(tenant, PHONE))[0]
    assert (reply.body, reply.from_, reply.to) == ("Thanks!", tenant.number, PHONE)
    wait_until(lambda: tenant.client.messages(reply.sid).fetch().status == "delivered")
    copy = wait_until(lambda: replies_to(tenant, other))[0]
    assert (copy.body, copy.num_media) == ("Copy", "1")
    # the reply's media are fetched before it is sent, like an API create's
    wait_until(lambda: tenant.client.messages(copy.sid).fetch().status == "delivered")
    assert [m.content_type for m in tenant.client.messages(copy.sid).media.list()] == ["image/png"]


@pytest.mark.parametrize(
    ("answer", "content_type", "note"),
    [
        ("<Response/>", "text/xml", None),
        ("OK, thanks", "text/plain", None),
        ("", "text/xml", None),
        ("<Response><Message>unclosed</Response>", "text/xml", "12100"),
        ("<Response><Message to='not a number'>x</Message></Response>", "text/xml", "21211"),
        ("<Response><Message></Message></Response>", "text/xml", "21602"),
    ],
)
def test_answers_that_create_no_reply(
    server: Server,
    tenant: Tenant,
    receiver: Receiver,
    answer: str,
    content_type: str,
    note: str | None,
) -> None:
    url = receiver.answer("/quiet", answer, content_type=content_type)
    set_webhook(tenant, sms_url=url)
    sid = received(tenant, "hello?")["sid"]
    logged = wait_until(lambda: attempts(server, sid))
    assert logged[0][1] == 200
    error = logged[0][2]
    assert (error is None) if note is None else error.startswith(note)
    assert replies_to(tenant, PHONE) == []
    assert server.healthy()


def test_stop_blocks_further_sends_and_start_lifts_it(tenant: Tenant) -> None:
    def send() -> Any:
        return tenant.client.messages.create(to=PHONE, from_=tenant.number, body="promo")

    send()
    received(tenant, "  Stop ")
    with pytest.raises(TwilioRestException) as info:
        send()
    assert (info.value.status, info.value.code) == (400, 21610)
    confirmation = [r.body for r in replies_to(tenant, PHONE)]
    assert confirmation == [
        "You have successfully been unsubscribed. You will not receive any "
        "more messages from this number. Reply START to resubscribe."
    ]
    # Only this sender is blocked: another number of the account may still send.
    other = tenant.client.incoming_phone_numbers.create(phone_number=random_number())
    tenant.client.messages.create(to=PHONE, from_=other.phone_number, body="still fine")

    received(tenant, "start")
    assert send().status == "queued"
    received(tenant, "STOP please")
    assert send().status == "queued"


def test_stop_is_recorded_and_forwarded_even_with_a_webhook(
    tenant: Tenant, receiver: Receiver
) -> None:
    url = receiver.answer("/stop", "<Response><Message>sorry to see you go</Message></Response>")
    set_webhook(tenant, sms_url=url)
    sid = received(tenant, "UNSUBSCRIBE")["sid"]
    assert one_hit(receiver, sid).params["Body"] == "UNSUBSCRIBE"
    with pytest.raises(TwilioRestException) as info:
        tenant.client.messages.create(to=PHONE, from_=tenant.number, body="x")
    assert info.value.code == 21610
    # The TwiML reply to an opted-out recipient is refused (21610); only the confirmation goes.
    wait_until(lambda: tenant.client.messages(sid).fetch().date_sent is not None)
    assert len(replies_to(tenant, PHONE)) == 1


def test_help_gets_the_configured_reply(tenant: Tenant) -> None:
    received(tenant, "help")
    reply = wait_until(lambda: replies_to(tenant, PHONE))[0]
    assert reply.body == "Reply STOP to unsubscribe. Msg&Data Rates May Apply."
    wait_until(lambda: tenant.client.messages(reply.sid).fetch().status == "delivered")


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"From": "not a phone"}, 400, 21212),
        ({"From": ""}, 400, 21212),
        ({"To": ""}, 400, 21604),
        ({"To": "+15017120000"}, 404, 20404),
        ({"MediaUrl": "ftp://e.com/x"}, 400, 21620),
    ],
)
def test_injection_errors(tenant: Tenant, fields: dict[str, str], status: int, code: int) -> None:
    response = inject(tenant, "x", **fields)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_injection_needs_the_owners_credentials(
    server: Server, tenant: Tenant, main_client: Any
) -> None:
    data = {"From": PHONE, "To": tenant.number, "Body": "x"}
    anonymous = httpx.post(server.base_url + "/simulator/inbound", data=data)
    assert anonymous.status_code == 401
    # The parent account may inject into its subaccount's number.
    parent = httpx.post(
        server.base_url + "/simulator/inbound",
        data=data,
        auth=(server.account_sid, server.auth_token),
    )
    assert parent.status_code == 201
    assert parent.json()["account_sid"] == tenant.sid
    # Another subaccount may not (and learns nothing: the same 404 as an unknown number).
    sibling = main_client.api.v2010.accounts.create(friendly_name="sibling")
    foreign = httpx.post(
        server.base_url + "/simulator/inbound", data=data, auth=(sibling.sid, sibling.auth_token)
    )
    assert foreign.status_code == 404


def test_keyword_replies_are_configured_through_the_environment(
    launch: Launcher, tmp_path: Path
) -> None:
    srv = launch(
        tmp_path / "d",
        env={"SMSGATE_HELP_REPLY": "Call us on 555-0100.", "SMSGATE_STOP_REPLY": ""},
    )
    try:
        tenants = make_tenant(srv, sdk(srv, srv.account_sid, srv.auth_token))
        tenant = next(tenants)
        received(tenant, "info")
        assert [r.body for r in wait_until(lambda: replies_to(tenant, PHONE))] == [
            "Call us on 555-0100."
        ]
        # An empty STOP reply sends nothing, but the opt-out is recorded all the same.
        received(tenant, "STOP")
        with pytest.raises(TwilioRestException) as info:
            tenant.client.messages.create(to=PHONE, from_=tenant.number, body="x")
        assert info.value.code == 21610
        # The automatic reply is written with the STOP itself: none was.
        assert [r.body for r in replies_to(tenant, PHONE)] == ["Call us on 555-0100."]
        tenants.close()
    finally:
        assert srv.stop() == 0
