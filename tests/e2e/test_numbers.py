"""IncomingPhoneNumbers: the numbers an account owns, and their SMS webhook settings."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import Tenant, random_number


def test_number_lifecycle(tenant: Tenant) -> None:
    numbers = tenant.client.incoming_phone_numbers
    phone = random_number()
    created = numbers.create(phone_number=phone, sms_url="https://example.com/sms")
    assert created.sid.startswith("PN") and created.phone_number == phone
    assert created.sms_url == "https://example.com/sms" and created.sms_method == "POST"
    assert created.capabilities["sms"] is True
    assert created.account_sid == tenant.sid
    fetched = numbers(created.sid).fetch()
    assert fetched.friendly_name == created.friendly_name
    updated = numbers(created.sid).update(
        sms_url="https://example.com/in",
        sms_method="GET",
        sms_fallback_url="https://example.com/fallback",
        status_callback="https://example.com/status",
        friendly_name="support line",
    )
    assert (updated.sms_url, updated.sms_method) == ("https://example.com/in", "GET")
    assert updated.sms_fallback_url == "https://example.com/fallback"
    assert updated.status_callback == "https://example.com/status"
    assert updated.friendly_name == "support line"
    assert [n.sid for n in numbers.list(phone_number=phone)] == [created.sid]
    assert [n.sid for n in numbers.list(phone_number=phone[-5:])] == [created.sid]
    assert [n.sid for n in numbers.list(friendly_name="support line")] == [created.sid]
    assert numbers(created.sid).delete() is True
    with pytest.raises(TwilioRestException) as info:
        numbers(created.sid).fetch()
    assert info.value.status == 404


def test_a_number_belongs_to_one_account(tenant: Tenant, main_client: Client) -> None:
    with pytest.raises(TwilioRestException) as info:
        main_client.incoming_phone_numbers.create(phone_number=tenant.number)
    assert info.value.code == 21422
    with pytest.raises(TwilioRestException) as info:
        main_client.incoming_phone_numbers.create(phone_number="+15005550000")
    assert info.value.code == 21422


@pytest.mark.parametrize("phone", ["", "12345", "not a number", "+1"])
def test_invalid_numbers(tenant: Tenant, phone: str) -> None:
    r = tenant.http.post(tenant.url("/IncomingPhoneNumbers.json"), data={"PhoneNumber": phone})
    assert (r.status_code, r.json()["code"]) == (400, 21421)


def test_invalid_webhook_settings(tenant: Tenant) -> None:
    sid = tenant.client.incoming_phone_numbers.list(phone_number=tenant.number)[0].sid
    r = tenant.http.post(tenant.url(f"/IncomingPhoneNumbers/{sid}.json"), data={"SmsUrl": "x"})
    assert (r.status_code, r.json()["code"]) == (400, 21502)
    r = tenant.http.post(tenant.url(f"/IncomingPhoneNumbers/{sid}.json"), data={"SmsMethod": "PUT"})
    assert r.status_code == 400


def test_transfer_a_number_between_parent_and_subaccount(
    tenant: Tenant, main_client: Client, server: object
) -> None:
    phone = random_number()
    number = main_client.incoming_phone_numbers.create(phone_number=phone)
    moved = main_client.incoming_phone_numbers(number.sid).update(account_sid=tenant.sid)
    assert moved.account_sid == tenant.sid
    sent = tenant.client.messages.create(to="+15558675310", from_=phone, body="moved")
    assert sent.from_ == phone
    with pytest.raises(TwilioRestException):
        main_client.incoming_phone_numbers(number.sid).fetch()
