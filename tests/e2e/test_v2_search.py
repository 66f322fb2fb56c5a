"""GET /v2/Properties/{PropertySid}/Messages (seed 003): search over the same store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from twilio.rest import Client

from tests.conftest import Server, Tenant, make_tenant, wait_until
from tests.e2e.test_service_sending import pool_service
from tests.xmlhelp import FIXTURES

SEED = json.loads((FIXTURES / "seed_003_search.json").read_text())
PHONE = "+15558675310"


def search(
    tenant: Tenant, prop: str | None = None, *, body: Any = None, **params: Any
) -> httpx.Response:
    path = f"/v2/Properties/{prop or tenant.sid}/Messages"
    if body is None:
        return tenant.http.get(path, params=params)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return tenant.http.request("GET", path, params=params, content=content)


def window(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"Date_From": now - 300, "Date_To": now + 300, **extra}


def found(tenant: Tenant, prop: str | None = None, **params: Any) -> list[dict[str, Any]]:
    r = search(tenant, prop, body=window(**params))
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = r.json()["Messages"]
    return messages


def final(tenant: Tenant, sid: str, *statuses: str) -> None:
    wait_until(lambda: tenant.client.messages(sid).fetch().status in statuses)


@pytest.fixture
def other(server: Server, main_client: Client) -> Iterator[Tenant]:
    yield from make_tenant(server, main_client)


def test_the_seeds_requests_are_accepted_and_its_fields_are_answered(tenant: Tenant) -> None:
    for name in ("request_dates_only", "request_all_filters"):
        r = search(tenant, body=SEED[name])  # 2017: nothing there, and that is not an error
        assert (r.status_code, r.json()) == (200, {"Messages": []}), name
    tenant.client.messages.create(to=PHONE, from_=tenant.number, body="hi")
    inbound = tenant.http.post(
        "/simulator/inbound", data={"From": PHONE, "To": tenant.number, "Body": "yo"}
    )
    assert inbound.status_code == 201
    messages = found(tenant)
    seed_message = SEED["response"]["Messages"][0]
    for m in messages:
        assert set(seed_message) <= set(m)
        for key, value in seed_message.items():
            if value is not None:
                assert type(m[key]) is type(value) or m[key] is None, key
    received = next(m for m in messages if m["Direction"] == "Receive")
    assert (received["Status"], received["Text"], received["DeliveryReceipt"]) == (
        "Received",
        "yo",
        False,
    )
    assert received["Received"] == received["Created"]


def test_status_and_direction_filters_use_the_documented_mapping(tenant: Tenant) -> None:
    send = tenant.client.messages.create
    delivered = send(to=PHONE, from_=tenant.number, body="delivered").sid
    undelivered = send(to="+15005550010", from_=tenant.number, body="undelivered").sid
    stays_sent = send(to="+15005550015", from_=tenant.number, body="sent").sid
    final(tenant, delivered, "delivered")
    final(tenant, undelivered, "undelivered")
    final(tenant, stays_sent, "sent")
    r = tenant.http.post(
        "/simulator/inbound", data={"From": PHONE, "To": tenant.number, "Body": "in"}
    )
    inbound = r.json()["sid"]

    def sids(**params: Any) -> set[str]:
        return {m["MessageSid"] for m in found(tenant, **params)}

    assert sids(Status="Delivered") == {delivered}
    assert sids(Status="Failed") == {undelivered}
    assert sids(Status="Submitted") == {stays_sent}
    assert sids(Status="Received") == {inbound}
    assert sids(Status="Processing") == set()
    assert sids(Status="delivered") == {delivered}  # values are not case-sensitive
    assert sids(Direction="Receive") == {inbound}
    assert sids(Direction="Transmit") == {delivered, undelivered, stays_sent}
    assert sids(Direction="Transmit", Status="Received") == set()
    failed = next(m for m in found(tenant, Status="Failed"))
    assert (failed["ErrorCode"], failed["Delivered"]) == ("30003", None)
    done = next(m for m in found(tenant, Status="Delivered"))
    assert done["Delivered"] >= done["Submitted"] >= done["Created"]
    assert (done["DeliveryReceipt"], done["NumSegments"], done["Scheduled"]) == (True, 1, None)


def test_window_count_and_skip(tenant: Tenant) -> None:
    sids = [
        tenant.client.messages.create(to=PHONE, from_=tenant.number, body=str(i)).sid
        for i in range(5)
    ]
    everything = found(tenant)
    assert [m["MessageSid"] for m in everything] == sids  # oldest first
    assert [m["MessageSid"] for m in found(tenant, Results_Count=2, Results_Skip=1)] == sids[1:3]
    assert found(tenant, Results_Skip=5) == []
    assert len(found(tenant, Results_Count=5000)) == 5  # capped at 1,000, not refused
    created = everything[2]["Created"]
    r = search(tenant, Date_From=created, Date_To=created + 1)  # the query string works too
    assert r.status_code == 200
    assert {m["MessageSid"] for m in r.json()["Messages"]} <= set(sids)
    later = search(
        tenant, Date_From=everything[-1]["Created"] + 1, Date_To=everything[-1]["Created"] + 60
    )
    assert later.json() == {"Messages": []}  # Date_From is inclusive, Date_To exclusive


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({}, {("MissingParameter", "Date_From"), ("MissingParameter", "Date_To")}),
        ({"Date_From": 1506038400}, {("MissingParameter", "Date_To")}),
        ({"Date_From": "yesterday", "Date_To": 1506427200}, {("InvalidParameter", "Date_From")}),
        ({"Date_From": 1506038400.5, "Date_To": 1506427200}, {("InvalidParameter", "Date_From")}),
        ({"Date_From": True, "Date_To": 1506427200}, {("InvalidParameter", "Date_From")}),
        ({"Date_From": -1, "Date_To": 1506427200}, {("InvalidParameter", "Date_From")}),
        ({"Date_From": 1506427200, "Date_To": 1506038400}, {("InvalidParameter", "Date_To")}),
        ({"Date_From": 1506427200, "Date_To": 1506427200}, {("InvalidParameter", "Date_To")}),
        ({"Date_From": 1, "Date_To": 10**20}, {("InvalidParameter", "Date_To")}),
        ({"Date_From": 1, "Date_To": 2, "Status": "Sent"}, {("InvalidParameter", "Status")}),
        ({"Date_From": 1, "Date_To": 2, "Status": 3}, {("InvalidParameter", "Status")}),
        (
            {"Date_From": 1, "Date_To": 2, "Direction": "Inbound"},
            {("InvalidParameter", "Direction")},
        ),
        (
            {"Date_From": 1, "Date_To": 2, "Results_Skip": -1},
            {("InvalidParameter", "Results_Skip")},
        ),
        (
            {"Date_From": 1, "Date_To": 2, "Results_Count": 0},
            {("InvalidParameter", "Results_Count")},
        ),
        (
            {"Date_From": 1, "Date_To": 2, "Results_Count": "ten"},
            {("InvalidParameter", "Results_Count")},
        ),
        ({"Date_From": 1, "Date_To": 2, "date_to": 3}, {("InvalidParameter", "date_to")}),
        (
            {"Date_To": "x", "Status": "Nope", "Results_Skip": -3},
            {
                ("MissingParameter", "Date_From"),
                ("InvalidParameter", "Date_To"),
                ("InvalidParameter", "Status"),
                ("InvalidParameter", "Results_Skip"),
            },
        ),
    ],
)
def test_bad_parameters_are_400_in_this_apis_style(
    tenant: Tenant, params: dict[str, Any], errors: set[tuple[str, str]]
) -> None:
    # As a JSON body, and as a query string (where every value is text, and just as wrong).
    answers = [search(tenant, body=params)] + ([search(tenant, **params)] if params else [])
    for r in answers:
        assert r.status_code == 400, r.text
        body = r.json()
        assert set(body) == {"Errors"}
        assert {(e["Code"], e["Parameter"]) for e in body["Errors"]} == errors
        assert all(e["Message"] for e in body["Errors"])


def test_bad_bodies_and_parameters_given_twice(tenant: Tenant) -> None:
    for content in (b"{not json", b"[1, 2]", b'"Date_From"'):
        r = search(tenant, body=content)
        assert r.status_code == 400
        assert [e["Code"] for e in r.json()["Errors"]] == ["InvalidRequest"]
    r = search(tenant, body=window(), Date_From=1)
    assert r.status_code == 400
    assert [(e["Code"], e["Parameter"]) for e in r.json()["Errors"]] == [
        ("InvalidParameter", "Date_From")
    ]
    r = tenant.http.get(f"/v2/Properties/{tenant.sid}/Messages?Date_From=1&Date_From=2&Date_To=3")
    assert r.status_code == 400


def test_properties_are_services_or_accounts_of_the_caller(
    server: Server, tenant: Tenant, other: Tenant, main_client: Client
) -> None:
    service, (pool_number,) = pool_service(tenant, server, 1)
    direct = tenant.client.messages.create(to=PHONE, from_=tenant.number, body="direct").sid
    through = tenant.client.messages.create(to=PHONE, messaging_service_sid=service, body="svc").sid
    r = tenant.http.post(
        "/simulator/inbound", data={"From": PHONE, "To": pool_number, "Body": "in"}
    )
    inbound = r.json()["sid"]
    final(tenant, through, "delivered")
    in_service = found(tenant, service)
    assert {m["MessageSid"] for m in in_service} == {through, inbound}
    assert {m["PropertySid"] for m in in_service} == {service}
    everything = {m["MessageSid"]: m for m in found(tenant)}
    assert set(everything) == {direct, through, inbound}
    assert everything[direct]["PropertySid"] == tenant.sid
    # Another account's service or account, an unknown or malformed SID: 404, in v2 style.
    for prop in (service, tenant.sid, "MG" + "0" * 32, "XX123"):
        r = search(other, prop, body=window())
        assert r.status_code == 404, prop
        assert [e["Code"] for e in r.json()["Errors"]] == ["NotFound"]
    # A main account reaches its subaccount's messages by the subaccount's SID.
    r = httpx.request(
        "GET",
        f"{server.base_url}/v2/Properties/{tenant.sid}/Messages",
        params=window(),
        auth=(server.account_sid, server.auth_token),
    )
    assert {m["MessageSid"] for m in r.json()["Messages"]} == set(everything)
    # Wrong credentials: 401 in this API's style, before anything else is looked at.
    r = httpx.get(
        f"{server.base_url}/v2/Properties/{tenant.sid}/Messages", auth=(tenant.sid, "nope")
    )
    assert (r.status_code, r.json()["Errors"][0]["Code"]) == (401, "Unauthorized")
    r = tenant.http.post(f"/v2/Properties/{tenant.sid}/Messages", json=window())
    assert (r.status_code, r.json()["Errors"][0]["Code"]) == (405, "MethodNotAllowed")
