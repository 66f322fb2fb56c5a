"""Inbound messages to a number in a Messaging Service: the service's webhook settings rule.

Twilio sends the webhook to the service's ``InboundRequestUrl`` (``FallbackUrl`` when it
fails) unless the service sets ``UseInboundWebhookOnNumber``, in which case the number's own
``SmsUrl``/``SmsFallbackUrl`` are used. Services are set up with the official SDK's
``client.messaging.v1``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from tests.conftest import Server, Tenant, random_number, wait_until
from tests.e2e.test_inbound import PHONE, attempts, one_hit, received, replies_to, set_webhook
from tests.e2e.test_services import messaging
from tests.fakes.receiver import Receiver


def pooled(tenant: Tenant, server: Server, **options: Any) -> Any:
    """A new service of the tenant with the tenant's number in its pool."""
    client = messaging(tenant, server)
    service = client.messaging.v1.services.create(friendly_name="inbound", **options)
    number = client.incoming_phone_numbers.list(phone_number=tenant.number)[0]
    client.messaging.v1.services(service.sid).phone_numbers.create(phone_number_sid=number.sid)
    return service


def outbox_rows(server: Server, sid: str) -> int:
    [(queued,)] = server.query("SELECT count(*) FROM webhook_outbox WHERE message_sid = ?", (sid,))
    return int(queued)


def test_the_services_inbound_request_url_wins_over_the_numbers(
    server: Server, tenant: Tenant, receiver: Receiver
) -> None:
    set_webhook(tenant, sms_url=receiver.url("/ok/number"))
    url = receiver.url("/ok/service?via=mg")
    service = pooled(tenant, server, inbound_request_url=url, inbound_method="GET")
    body = received(tenant, "to the service")
    assert body["messaging_service_sid"] == service.sid
    sid = body["sid"]
    hit = one_hit(receiver, sid)
    assert (hit.method, hit.path) == ("GET", "/ok/service")
    p = hit.params
    assert (p["MessagingServiceSid"], p["Body"], p["To"]) == (
        service.sid,
        "to the service",
        tenant.number,
    )
    # Signed over the service's URL with the parameters appended, like any GET webhook.
    assert hit.query[0] == ("via", "mg")
    full = receiver.url("/ok/service") + "?" + urlencode(hit.query)
    signed = RequestValidator(tenant.token).compute_signature(full, {})
    assert hit.headers["X-Twilio-Signature"] == signed
    logged = wait_until(lambda: attempts(server, sid))
    assert [(u, s) for u, s, _ in logged] == [(receiver.url("/ok/service?via=mg"), 200)]
    assert [h.path for h in receiver.for_message(sid)] == ["/ok/service"]
    wait_until(lambda: tenant.client.messages(sid).fetch().date_sent is not None)


def test_the_services_fallback_url_answers_when_its_inbound_url_fails(
    server: Server, tenant: Tenant, receiver: Receiver
) -> None:
    set_webhook(
        tenant,
        sms_url=receiver.url("/ok/number"),
        sms_fallback_url=receiver.url("/ok/number-fallback"),
    )
    fallback = receiver.answer(
        "/service-fallback", "<Response><Message>the service's fallback</Message></Response>"
    )
    service = pooled(
        tenant,
        server,
        inbound_request_url=receiver.url("/fail/service"),
        fallback_url=fallback,
        fallback_method="GET",
    )
    sid = received(tenant, "anyone?")["sid"]
    wait_until(
        lambda: (
            [h.path for h in receiver.for_message(sid)] == ["/fail/service", "/service-fallback"]
        )
    )
    hit = receiver.for_message(sid)[1]
    assert hit.method == "GET"
    assert hit.params["MessagingServiceSid"] == service.sid
    replies = wait_until(lambda: replies_to(tenant, PHONE))
    assert [r.body for r in replies] == ["the service's fallback"]
    logged = attempts(server, sid)
    assert [(u, s) for u, s, _ in logged] == [(receiver.url("/fail/service"), 500), (fallback, 200)]


def test_use_inbound_webhook_on_number_defers_to_the_number(
    server: Server, tenant: Tenant, receiver: Receiver
) -> None:
    number_fallback = receiver.answer(
        "/number-fallback", "<Response><Message>the number's fallback</Message></Response>"
    )
    set_webhook(
        tenant,
        sms_url=receiver.url("/fail/number"),
        sms_fallback_url=number_fallback,
        sms_fallback_method="POST",
    )
    service = pooled(
        tenant,
        server,
        inbound_request_url=receiver.url("/ok/service"),
        fallback_url=receiver.url("/ok/service-fallback"),
        use_inbound_webhook_on_number=True,
    )
    sid = received(tenant, "to the number")["sid"]
    wait_until(
        lambda: [h.path for h in receiver.for_message(sid)] == ["/fail/number", "/number-fallback"]
    )
    hit = receiver.for_message(sid)[1]
    assert hit.params["MessagingServiceSid"] == service.sid
    assert RequestValidator(tenant.token).validate(
        number_fallback, hit.params, hit.headers["X-Twilio-Signature"]
    )
    assert [r.body for r in wait_until(lambda: replies_to(tenant, PHONE))] == [
        "the number's fallback"
    ]

    # Turned off through the SDK: the service's own URL takes over for the next message.
    updated = service.update(use_inbound_webhook_on_number=False)
    assert updated.use_inbound_webhook_on_number is False
    again = received(tenant, "to the service now")["sid"]
    assert one_hit(receiver, again).path == "/ok/service"


def test_a_service_without_an_inbound_url_requests_nothing(
    server: Server, tenant: Tenant, receiver: Receiver
) -> None:
    set_webhook(tenant, sms_url=receiver.url("/ok/number"))
    service = pooled(tenant, server, fallback_url=receiver.url("/ok/service-fallback"))
    body = received(tenant, "nobody listens")
    # Stored (smsgate keeps it, see docs/compat.md), sent on arrival, and no webhook queued:
    # the message, its webhook and its date_sent are written in one transaction.
    assert body["messaging_service_sid"] == service.sid
    assert body["date_sent"] is not None
    assert outbox_rows(server, body["sid"]) == 0
    assert attempts(server, body["sid"]) == []
    assert tenant.client.messages(body["sid"]).fetch().direction == "inbound"
    # Opt-out keywords still work, for the whole service.
    stop = received(tenant, "STOP")
    assert outbox_rows(server, stop["sid"]) == 0
    with pytest.raises(TwilioRestException) as info:
        tenant.client.messages.create(to=PHONE, messaging_service_sid=service.sid, body="x")
    assert info.value.code == 21610
    assert receiver.hits == []


def test_a_twiml_reply_from_a_pooled_number_respects_the_services_opt_out(
    server: Server, tenant: Tenant, receiver: Receiver
) -> None:
    url = receiver.answer("/service-twiml", "<Response><Message>hello again</Message></Response>")
    service = pooled(tenant, server, inbound_request_url=url)
    client = messaging(tenant, server)
    other = client.incoming_phone_numbers.create(phone_number=random_number())
    client.messaging.v1.services(service.sid).phone_numbers.create(phone_number_sid=other.sid)
    phone = "+15558670077"
    stop = received(tenant, "stop", sender=phone)["sid"]
    wait_until(lambda: attempts(server, stop))
    # The phone writes to the service's other number: its webhook's reply is refused.
    hi = tenant.http.post(
        "/simulator/inbound", data={"From": phone, "To": other.phone_number, "Body": "hi"}
    ).json()["sid"]
    logged = wait_until(lambda: attempts(server, hi))
    assert logged[0][1] == 200 and logged[0][2].startswith("21610")
    sent = tenant.client.messages.list(to=phone)
    assert [m.body for m in sent if m.direction == "outbound-reply"] == [
        "You have successfully been unsubscribed. You will not receive any "
        "more messages from this number. Reply START to resubscribe."
    ]
