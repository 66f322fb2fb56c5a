"""The legacy /SMS/Messages resource (seed 000): the same store, the legacy shape and words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from twilio.rest import Client

from tests.conftest import Server, Tenant, make_tenant, wait_until
from tests.fakes.receiver import Receiver
from tests.xmlhelp import csv_rows, fields, fixture_xml, only_child, rest_exception, xml

TO = "+15558675310"


def legacy_send(tenant: Tenant, suffix: str = ".json", **data: str) -> Any:
    form = {"To": TO, "From": tenant.number, "Body": "legacy", **data}
    return tenant.http.post(tenant.url(f"/SMS/Messages{suffix}"), data=form)


def sent(tenant: Tenant, body: str, to: str = TO) -> str:
    r = legacy_send(tenant, Body=body, To=to)
    assert r.status_code == 201, r.text
    sid: str = r.json()["sid"]
    return sid


def delivered(tenant: Tenant, sid: str) -> None:
    wait_until(lambda: tenant.client.messages(sid).fetch().status == "delivered")


def test_the_xml_has_the_seeds_shape(tenant: Tenant) -> None:
    sid = sent(tenant, "Hey Jenny")
    delivered(tenant, sid)
    seed_one = only_child(fixture_xml("seed_000_sms_message.xml"), "SMSMessage")
    one = only_child(xml(tenant.http.get(tenant.url(f"/SMS/Messages/{sid}"))), "SMSMessage")
    # The same elements in the same order as the seed's instance example, none nested.
    assert [c.tag for c in one] == [c.tag for c in seed_one]
    assert all(len(c) == 0 for c in one)
    got = fields(one)
    assert got["Uri"] == f"/2010-04-01/Accounts/{tenant.sid}/SMS/Messages/{sid}"
    assert (got["Status"], got["Direction"], got["ApiVersion"]) == (
        "sent",
        "outbound-api",
        "2010-04-01",
    )
    assert got["Price"].startswith("-0.")  # as the seed's "-0.02000"

    seed_list = only_child(fixture_xml("seed_000_sms_messages.xml"), "SMSMessages")
    listing = only_child(xml(tenant.http.get(tenant.url("/SMS/Messages"))), "SMSMessages")
    assert list(listing.attrib) == list(seed_list.attrib)  # the same attributes, in order
    assert {c.tag for c in listing} == {"SMSMessage"}
    assert {c.tag for c in listing[0]} == {c.tag for c in seed_list[0]}
    assert listing.attrib["uri"] == f"/2010-04-01/Accounts/{tenant.sid}/SMS/Messages"
    assert listing.attrib["firstpageuri"] == listing.attrib["uri"] + "?Page=0&PageSize=50"
    assert (listing.attrib["page"], listing.attrib["numpages"], listing.attrib["total"]) == (
        "0",
        "1",
        "1",
    )
    assert (listing.attrib["previouspageuri"], listing.attrib["nextpageuri"]) == ("", "")


def test_post_sends_through_the_same_pipeline_and_is_seen_by_the_modern_api(tenant: Tenant) -> None:
    r = legacy_send(tenant, "", Body="from the past")  # XML, as an old client would
    assert r.status_code == 201
    message = fields(only_child(xml(r), "SMSMessage"))
    assert message["Status"] == "queued"
    modern = tenant.client.messages(message["Sid"]).fetch()
    assert (modern.body, modern.from_, modern.to, modern.direction) == (
        "from the past", tenant.number, TO, "outbound-api"
    )  # fmt: skip
    delivered(tenant, message["Sid"])
    # delivered in Twilio's current words is "sent" in the legacy ones.
    again = tenant.http.get(tenant.url(f"/SMS/Messages/{message['Sid']}.json")).json()
    assert again["status"] == "sent"
    assert again["uri"].endswith(f"/SMS/Messages/{message['Sid']}.json")


def test_post_validates_as_the_modern_api_does(tenant: Tenant) -> None:
    r = legacy_send(tenant, To="")
    assert (r.status_code, r.json()["code"]) == (400, 21604)
    r = legacy_send(tenant, "", From="+15550009999")
    assert (r.status_code, rest_exception(r)["Code"]) == (400, "21606")
    r = legacy_send(tenant, StatusCallback="not a url")
    assert (r.status_code, r.json()["code"]) == (400, 21609)


def test_the_status_callback_is_called_as_for_any_message(
    tenant: Tenant, receiver: Receiver
) -> None:
    r = legacy_send(tenant, StatusCallback=receiver.url("/ok/legacy"))
    assert r.status_code == 201
    sid = r.json()["sid"]
    wait_until(lambda: receiver.statuses(sid) == ["sending", "sent", "delivered"])


def test_inbound_messages_are_incoming_and_received(tenant: Tenant) -> None:
    r = tenant.http.post(
        "/simulator/inbound", data={"From": TO, "To": tenant.number, "Body": "hi there"}
    )
    assert r.status_code == 201
    sid = r.json()["sid"]
    got = tenant.http.get(tenant.url(f"/SMS/Messages/{sid}.json")).json()
    assert (got["direction"], got["status"], got["from"], got["to"]) == (
        "incoming", "received", TO, tenant.number
    )  # fmt: skip


def test_filters_and_paging(tenant: Tenant) -> None:
    others = [sent(tenant, f"a{i}", to="+15558675311") for i in range(3)]
    mine = sent(tenant, "b", to="+15558675312")
    for sid in [*others, mine]:
        delivered(tenant, sid)
    body = tenant.http.get(tenant.url("/SMS/Messages.json"), params={"To": "+15558675312"}).json()
    assert [m["sid"] for m in body["sms_messages"]] == [mine]
    assert body["uri"].endswith("/SMS/Messages.json?To=%2B15558675312")

    page = tenant.http.get(tenant.url("/SMS/Messages.json"), params={"PageSize": 2}).json()
    assert (page["total"], page["num_pages"], page["page_size"], page["start"], page["end"]) == (
        4,
        2,
        2,
        0,
        1,
    )
    assert page["previous_page_uri"] is None
    assert page["next_page_uri"].endswith("/SMS/Messages.json?Page=1&PageSize=2")
    assert page["last_page_uri"] == page["next_page_uri"]
    second = tenant.http.get(page["next_page_uri"]).json()
    assert (second["page"], second["start"], second["end"], second["next_page_uri"]) == (
        1,
        2,
        3,
        None,
    )
    walked = [m["sid"] for m in page["sms_messages"] + second["sms_messages"]]
    assert sorted(walked) == sorted([*others, mine])
    # Newest DateSent first, as the modern list.
    modern = [m.sid for m in tenant.client.messages.list()]
    assert walked == modern

    today = tenant.client.messages(mine).fetch().date_sent.strftime("%Y-%m-%d")
    for params, expected in (
        ({"DateSent": today}, 4),
        ({"DateSent>": today}, 4),
        ({"DateSent<": "2001-01-01"}, 0),
        ({"From": tenant.number, "To": "+15558675311"}, 3),
    ):
        got = tenant.http.get(tenant.url("/SMS/Messages.json"), params=params).json()
        assert (got["total"], len(got["sms_messages"])) == (expected, expected), params
    # The seed's own spelling, DateSent>=YYYY-MM-DD and DateSent<=YYYY-MM-DD, as raw query strings.
    raw = tenant.http.get(tenant.url(f"/SMS/Messages.json?DateSent>={today}")).json()
    assert raw["total"] == 4
    raw = tenant.http.get(tenant.url("/SMS/Messages.json?DateSent<=2001-01-01")).json()
    assert (raw["total"], raw["sms_messages"]) == (0, [])
    bad = tenant.http.get(tenant.url("/SMS/Messages"), params={"DateSent": "yesterday-ish"})
    assert (bad.status_code, rest_exception(bad)["Status"]) == (400, "400")
    rows = csv_rows(tenant.http.get(tenant.url("/SMS/Messages.csv")))
    assert [r["Sid"] for r in rows] == modern
    assert list(rows[0])[:4] == ["Sid", "DateCreated", "DateUpdated", "DateSent"]


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_put_and_delete_are_405_and_change_nothing(tenant: Tenant, method: str) -> None:
    sid = sent(tenant, "keep me")
    delivered(tenant, sid)
    before = tenant.http.get(tenant.url(f"/SMS/Messages/{sid}.json")).json()
    for path in (f"/SMS/Messages/{sid}", f"/SMS/Messages/{sid}.json", "/SMS/Messages"):
        r = tenant.http.request(method, tenant.url(path), data={"Body": ""})
        assert r.status_code == 405, path
        if path.endswith(".json"):
            assert r.json()["code"] == 20004
        else:
            exc = rest_exception(r)
            assert (exc["Code"], exc["Status"]) == ("20004", "405")
    # POST on one message (an update in the modern API) is not supported here either.
    r = tenant.http.post(tenant.url(f"/SMS/Messages/{sid}"), data={"Body": ""})
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"
    after = tenant.http.get(tenant.url(f"/SMS/Messages/{sid}.json")).json()
    assert after == before
    assert tenant.client.messages(sid).fetch().body == "keep me"


@pytest.fixture
def other(server: Server, main_client: Client) -> Iterator[Tenant]:
    yield from make_tenant(server, main_client)


def test_another_accounts_message_is_not_found(tenant: Tenant, other: Tenant) -> None:
    sid = sent(tenant, "private")
    r = tenant.http.get(tenant.url("/SMS/Messages/SM00000000000000000000000000000000"))
    assert (r.status_code, rest_exception(r)["Code"]) == (404, "20404")
    assert tenant.http.get(tenant.url(f"/SMS/Messages/{sid}.json")).status_code == 200
    r = tenant.http.get(
        f"/2010-04-01/Accounts/{tenant.sid}/SMS/Messages/{sid}.json",
        auth=(other.sid, other.token),
    )
    assert r.status_code == 401
    r = other.http.get(other.url(f"/SMS/Messages/{sid}.json"))
    assert (r.status_code, r.json()["code"]) == (404, 20404)
