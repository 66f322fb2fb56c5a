"""Messaging v1 Services and their sender pools through ``client.messaging`` and raw HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import Server, Tenant, make_tenant, random_number

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# Every property of messaging.v1.service in the SDK (ServiceInstance reads these).
SERVICE_FIELDS = {
    "sid", "account_sid", "friendly_name", "date_created", "date_updated",
    "inbound_request_url", "inbound_method", "fallback_url", "fallback_method",
    "status_callback", "sticky_sender", "mms_converter", "smart_encoding",
    "scan_message_content", "fallback_to_long_code", "area_code_geomatch",
    "synchronous_validation", "validity_period", "url", "links", "usecase",
    "us_app_to_person_registered", "use_inbound_webhook_on_number",
}  # fmt: skip
POOL_FIELDS = {
    "sid", "account_sid", "service_sid", "date_created", "date_updated", "phone_number",
    "country_code", "capabilities", "url",
}  # fmt: skip
META = {"page", "page_size", "first_page_url", "previous_page_url", "url", "next_page_url", "key"}


def messaging(tenant: Tenant, server: Server) -> Client:
    """The tenant's SDK client with its messaging domain pointed at smsgate too."""
    tenant.client.messaging.base_url = server.base_url
    return tenant.client


def new_number(client: Client) -> tuple[str, str]:
    number = client.incoming_phone_numbers.create(phone_number=random_number())
    return str(number.sid), str(number.phone_number)


@pytest.fixture
def other(server: Server, main_client: Client) -> Iterator[Tenant]:
    yield from make_tenant(server, main_client)


def test_service_crud_with_the_sdk(server: Server, tenant: Tenant) -> None:
    client = messaging(tenant, server)
    created = client.messaging.v1.services.create(
        friendly_name="alerts",
        inbound_request_url="https://example.com/in",
        inbound_method="GET",
        fallback_url="https://example.com/fallback",
        status_callback="https://example.com/status",
        sticky_sender=False,
        smart_encoding=False,
        validity_period=600,
        use_inbound_webhook_on_number=True,
        usecase="notifications",
        mms_converter=False,
    )
    assert created.sid.startswith("MG") and len(created.sid) == 34
    assert created.account_sid == tenant.sid
    assert (created.friendly_name, created.inbound_method, created.fallback_method) == (
        "alerts",
        "GET",
        "POST",
    )
    assert created.inbound_request_url == "https://example.com/in"
    assert created.status_callback == "https://example.com/status"
    assert (created.sticky_sender, created.smart_encoding, created.mms_converter) == (
        False,
        False,
        False,
    )
    assert (created.validity_period, created.use_inbound_webhook_on_number) == (600, True)
    assert created.usecase == "notifications"
    assert created.date_created is not None and created.date_created.tzinfo is not None
    assert created.url == f"{server.base_url}/v1/Services/{created.sid}"
    assert created.links["phone_numbers"] == created.url + "/PhoneNumbers"

    fetched = client.messaging.v1.services(created.sid).fetch()
    assert (fetched.sid, fetched.friendly_name, fetched.validity_period) == (
        created.sid,
        "alerts",
        600,
    )
    updated = client.messaging.v1.services(created.sid).update(
        friendly_name="renamed", sticky_sender=True, inbound_request_url=""
    )
    assert (updated.friendly_name, updated.sticky_sender) == ("renamed", True)
    assert updated.inbound_request_url is None
    assert updated.status_callback == "https://example.com/status"  # untouched
    assert client.messaging.v1.services(created.sid).delete() is True
    with pytest.raises(TwilioRestException) as info:
        client.messaging.v1.services(created.sid).fetch()
    assert (info.value.status, info.value.code) == (404, 20404)


def test_service_json_is_twilios_v1_shape(server: Server, tenant: Tenant) -> None:
    r = tenant.http.post("/v1/Services", data={"FriendlyName": "shape"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == SERVICE_FIELDS
    assert ISO.match(body["date_created"]) and ISO.match(body["date_updated"])
    # Twilio's defaults for a new service.
    assert (body["sticky_sender"], body["smart_encoding"], body["validity_period"]) == (
        True,
        True,
        36000,
    )
    assert (body["inbound_method"], body["fallback_method"]) == ("POST", "POST")
    assert body["inbound_request_url"] is None and body["status_callback"] is None
    assert body["use_inbound_webhook_on_number"] is False
    assert body["url"].startswith(server.base_url + "/v1/Services/MG")
    assert tenant.http.get("/v1/Services.json").status_code == 404  # v1 has no suffix


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({}, 20001),
        ({"FriendlyName": "x" * 65}, 20001),
        ({"FriendlyName": "x", "StatusCallback": "not a url"}, 21502),
        ({"FriendlyName": "x", "InboundMethod": "PUT"}, 20001),
        ({"FriendlyName": "x", "ValidityPeriod": "0"}, 20001),
        ({"FriendlyName": "x", "ValidityPeriod": "36001"}, 20001),
        ({"FriendlyName": "x", "StickySender": "maybe"}, 20001),
        ({"FriendlyName": "x", "ScanMessageContent": "sometimes"}, 20001),
    ],
)
def test_invalid_services_get_twilio_errors(
    tenant: Tenant, fields: dict[str, str], code: int
) -> None:
    r = tenant.http.post("/v1/Services", data=fields)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == code
    assert set(r.json()) == {"code", "message", "more_info", "status"}


def test_services_page_with_absolute_urls_on_this_host(server: Server, tenant: Tenant) -> None:
    client = messaging(tenant, server)
    sids = [client.messaging.v1.services.create(friendly_name=f"s{i}").sid for i in range(5)]
    # The SDK follows meta.next_page_url as given: it must lead back here.
    assert [s.sid for s in client.messaging.v1.services.list(page_size=2)] == sids
    assert [s.sid for s in client.messaging.v1.services.stream(page_size=3, limit=4)] == sids[:4]
    first = tenant.http.get("/v1/Services", params={"PageSize": 2}).json()
    assert set(first) == {"services", "meta"}
    meta = first["meta"]
    assert set(meta) == META
    assert (meta["key"], meta["page"], meta["page_size"]) == ("services", 0, 2)
    assert meta["previous_page_url"] is None
    assert meta["first_page_url"] == f"{server.base_url}/v1/Services?PageSize=2&Page=0"
    assert meta["next_page_url"].startswith(f"{server.base_url}/v1/Services?PageSize=2&Page=1")
    second = tenant.http.get(meta["next_page_url"]).json()
    assert [s["sid"] for s in second["services"]] == sids[2:4]
    back = tenant.http.get(second["meta"]["previous_page_url"]).json()
    assert [s["sid"] for s in back["services"]] == sids[:2]
    last = tenant.http.get(second["meta"]["next_page_url"]).json()
    assert [s["sid"] for s in last["services"]] == sids[4:]
    assert last["meta"]["next_page_url"] is None


def test_pool_numbers_add_list_fetch_remove(server: Server, tenant: Tenant) -> None:
    client = messaging(tenant, server)
    service = client.messaging.v1.services.create(friendly_name="pool")
    pool = client.messaging.v1.services(service.sid).phone_numbers
    numbers = [new_number(client) for _ in range(3)]
    added = [pool.create(phone_number_sid=sid) for sid, _ in numbers]
    first = added[0]
    assert (first.sid, first.phone_number, first.service_sid) == (
        numbers[0][0],
        numbers[0][1],
        service.sid,
    )
    assert (first.account_sid, first.country_code, first.capabilities) == (
        tenant.sid,
        "US",
        ["SMS", "MMS"],
    )
    assert first.url == f"{server.base_url}/v1/Services/{service.sid}/PhoneNumbers/{first.sid}"
    assert sorted(p.sid for p in pool.list(page_size=2)) == sorted(sid for sid, _ in numbers)
    raw = tenant.http.get(f"/v1/Services/{service.sid}/PhoneNumbers", params={"PageSize": 1})
    body = raw.json()
    assert body["meta"]["key"] == "phone_numbers" and len(body["phone_numbers"]) == 1
    assert set(body["phone_numbers"][0]) == POOL_FIELDS
    assert ISO.match(body["phone_numbers"][0]["date_created"])
    assert pool(first.sid).fetch().phone_number == numbers[0][1]
    assert pool(first.sid).delete() is True
    with pytest.raises(TwilioRestException) as info:
        pool(first.sid).fetch()
    assert info.value.status == 404
    assert len(pool.list()) == 2
    # Deleting the number itself takes it out of the pool too.
    client.incoming_phone_numbers(numbers[1][0]).delete()
    assert [p.sid for p in pool.list()] == [numbers[2][0]]
    # Deleting the service frees its numbers for another one.
    client.messaging.v1.services(service.sid).delete()
    again = client.messaging.v1.services.create(friendly_name="again")
    assert client.messaging.v1.services(again.sid).phone_numbers.create(
        phone_number_sid=numbers[2][0]
    )


def test_a_number_is_in_one_pool_only(server: Server, tenant: Tenant, other: Tenant) -> None:
    client = messaging(tenant, server)
    one = client.messaging.v1.services.create(friendly_name="one")
    two = client.messaging.v1.services.create(friendly_name="two")
    sid, _ = new_number(client)
    client.messaging.v1.services(one.sid).phone_numbers.create(phone_number_sid=sid)
    cases = [
        (one.sid, sid, 21710),  # already in this pool
        (two.sid, sid, 21712),  # in another service's pool
        (two.sid, "PN" + "0" * 32, 21421),  # no such number
        (two.sid, "nonsense", 21421),
        (two.sid, new_number(messaging(other, server))[0], 21421),  # another account's number
    ]
    for service_sid, number_sid, code in cases:
        with pytest.raises(TwilioRestException) as info:
            client.messaging.v1.services(service_sid).phone_numbers.create(
                phone_number_sid=number_sid
            )
        assert (info.value.status, info.value.code) == (400, code), number_sid
    r = tenant.http.post(f"/v1/Services/{two.sid}/PhoneNumbers", data={})
    assert (r.status_code, r.json()["code"]) == (400, 20001)


def test_services_belong_to_one_account(server: Server, tenant: Tenant, other: Tenant) -> None:
    mine = messaging(tenant, server).messaging.v1.services.create(friendly_name="mine")
    theirs = messaging(other, server)
    for method, path in [
        ("GET", f"/v1/Services/{mine.sid}"),
        ("POST", f"/v1/Services/{mine.sid}"),
        ("DELETE", f"/v1/Services/{mine.sid}"),
        ("GET", f"/v1/Services/{mine.sid}/PhoneNumbers"),
        ("POST", f"/v1/Services/{mine.sid}/PhoneNumbers"),
    ]:
        r = other.http.request(method, path)
        assert (r.status_code, r.json()["code"]) == (404, 20404), (method, path)
    assert mine.sid not in [s.sid for s in theirs.messaging.v1.services.list()]
    r = other.http.get("/v1/Services", auth=(other.sid, "wrong"))
    assert (r.status_code, r.json()["code"]) == (401, 20003)
