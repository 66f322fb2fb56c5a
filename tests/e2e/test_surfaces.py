"""One set of messages seen through every surface: the modern API in JSON (the SDK), XML and
CSV, the legacy SMS/Messages resource in JSON, XML and CSV, and the v2 search. Each surface
must show every message, in the same order where the surfaces share one, field by field
equal to the modern JSON after the documented translation (docs/compat.md)."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

from tests.conftest import Server, Tenant, wait_until
from tests.e2e.test_service_sending import pool_service
from tests.xmlhelp import csv_rows, fields, only_child, xml

PHONE = "+15558675310"
LEGACY_STATUS = {
    "delivered": "sent",
    "sent": "sent",
    "undelivered": "failed",
    "received": "received",
}
LEGACY_DIRECTION = {
    "inbound": "incoming",
    "outbound-api": "outbound-api",
    "outbound-reply": "outbound-reply",
}
V2_STATUS = {
    "delivered": "Delivered",
    "sent": "Submitted",
    "undelivered": "Failed",
    "received": "Received",
}
V2_DIRECTION = {"inbound": "Receive", "outbound-api": "Transmit", "outbound-reply": "Transmit"}


def camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def text(value: Any) -> str:
    """A JSON value as XML and CSV write it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def epoch(rfc2822: str | None) -> int | None:
    return None if rfc2822 is None else int(parsedate_to_datetime(rfc2822).timestamp())


def legacy_of(m: dict[str, Any], ext: str) -> dict[str, Any]:
    """What the legacy resource must say about the modern message ``m``."""
    return {
        "sid": m["sid"],
        "date_created": m["date_created"],
        "date_updated": m["date_updated"],
        "date_sent": m["date_sent"],
        "account_sid": m["account_sid"],
        "to": m["to"],
        "from": m["from"],
        "body": m["body"],
        "status": LEGACY_STATUS[m["status"]],
        "direction": LEGACY_DIRECTION[m["direction"]],
        "api_version": "2010-04-01",
        "price": m["price"],
        "uri": f"/2010-04-01/Accounts/{m['account_sid']}/SMS/Messages/{m['sid']}{ext}",
    }


def v2_of(m: dict[str, Any]) -> dict[str, Any]:
    inbound = m["direction"] == "inbound"
    return {
        "MessageSid": m["sid"],
        "AccountSid": m["account_sid"],
        "PropertySid": m["messaging_service_sid"] or m["account_sid"],
        "From": m["from"],
        "To": m["to"],
        "Text": m["body"],
        "DeliveryReceipt": not inbound,
        "NumSegments": int(m["num_segments"]),
        "Status": V2_STATUS[m["status"]],
        "Direction": V2_DIRECTION[m["direction"]],
        "Scheduled": None,
        "Created": epoch(m["date_created"]),
        "Submitted": None if inbound else epoch(m["date_sent"]),
        "Delivered": epoch(m["date_updated"]) if m["status"] == "delivered" else None,
        "Received": epoch(m["date_created"]) if inbound else None,
        "ErrorCode": None if m["error_code"] is None else str(m["error_code"]),
    }


def test_every_surface_shows_the_same_messages(server: Server, tenant: Tenant) -> None:
    service, (pool_number,) = pool_service(tenant, server, 1)
    started = int(time.time())
    modern_sid = tenant.client.messages.create(to=PHONE, from_=tenant.number, body="modern").sid
    r = tenant.http.post(
        tenant.url("/SMS/Messages"), data={"To": PHONE, "From": tenant.number, "Body": "legacy"}
    )
    assert r.status_code == 201
    legacy_sid = fields(only_child(xml(r), "SMSMessage"))["Sid"]
    failing_sid = tenant.client.messages.create(
        to="+15005550010", from_=tenant.number, body="no"
    ).sid
    service_sid = tenant.client.messages.create(
        to=PHONE, messaging_service_sid=service, body="svc"
    ).sid
    r = tenant.http.post(
        "/simulator/inbound", data={"From": PHONE, "To": pool_number, "Body": "in"}
    )
    assert r.status_code == 201
    inbound_sid = r.json()["sid"]
    final = {"delivered", "undelivered", "received"}
    sids = {modern_sid, legacy_sid, failing_sid, service_sid, inbound_sid}
    wait_until(lambda: all(tenant.client.messages(s).fetch().status in final for s in sids))

    # The modern JSON, read raw (the SDK's own view is checked against it below).
    truth_page = tenant.http.get(tenant.url("/Messages.json")).json()["messages"]
    truth = {m["sid"]: m for m in truth_page}
    order = [m["sid"] for m in truth_page]
    assert set(order) == sids
    assert truth[legacy_sid]["body"] == "legacy" and truth[inbound_sid]["direction"] == "inbound"
    assert truth[service_sid]["messaging_service_sid"] == service
    assert truth[inbound_sid]["messaging_service_sid"] == service
    assert truth[failing_sid]["error_code"] == 30003

    # The SDK.
    sdk = {m.sid: m for m in tenant.client.messages.list()}
    for sid, m in truth.items():
        s = sdk[sid]
        assert (s.body, s.status, s.direction, s.to, s.from_, s.price, s.error_code) == (
            m["body"], m["status"], m["direction"], m["to"], m["from"], m["price"], m["error_code"]
        )  # fmt: skip
        assert s.num_segments == m["num_segments"]
        assert s.messaging_service_sid == m["messaging_service_sid"]

    # Modern XML: every field, CamelCase, nulls empty; URIs without the suffix.
    listing = only_child(xml(tenant.http.get(tenant.url("/Messages"))), "Messages")
    assert [fields(c)["Sid"] for c in listing] == order
    for element in listing:
        got = fields(element)
        m = truth[got["Sid"]]
        for key, value in m.items():
            if key == "uri":
                assert got["Uri"] == value.removesuffix(".json")
            elif key == "subresource_uris":
                assert got["SubresourceUris"] == {
                    camel(k): v.removesuffix(".json") for k, v in value.items()
                }
            else:
                assert got[camel(key)] == text(value), (got["Sid"], key)

    # Modern CSV: the same, one row each, without the nested URIs.
    rows = csv_rows(tenant.http.get(tenant.url("/Messages.csv")))
    assert [r["Sid"] for r in rows] == order
    for row in rows:
        m = truth[row["Sid"]]
        for key, value in m.items():
            if key == "uri":
                assert row["Uri"] == value.removesuffix(".json") + ".csv"
            elif key != "subresource_uris":
                assert row[camel(key)] == text(value), (row["Sid"], key)

    # Legacy JSON, XML and CSV.
    legacy = tenant.http.get(tenant.url("/SMS/Messages.json")).json()
    assert legacy["total"] == len(sids)
    assert [m["sid"] for m in legacy["sms_messages"]] == order
    for got in legacy["sms_messages"]:
        assert got == legacy_of(truth[got["sid"]], ".json")
    legacy_xml = only_child(xml(tenant.http.get(tenant.url("/SMS/Messages"))), "SMSMessages")
    assert [fields(c)["Sid"] for c in legacy_xml] == order
    for element in legacy_xml:
        got = fields(element)
        expected = legacy_of(truth[got["Sid"]], "")
        assert got == {camel(k): text(v) for k, v in expected.items()}
    legacy_rows = csv_rows(tenant.http.get(tenant.url("/SMS/Messages.csv")))
    assert [r["Sid"] for r in legacy_rows] == order
    for row in legacy_rows:
        expected = legacy_of(truth[row["Sid"]], ".csv")
        assert row == {camel(k): text(v) for k, v in expected.items()}
    for sid, m in truth.items():  # and one by one
        one = tenant.http.get(tenant.url(f"/SMS/Messages/{sid}.json")).json()
        assert one == legacy_of(m, ".json")

    # v2: the account as the property finds all of them, oldest first; the service only its own.
    body = {"Date_From": started - 5, "Date_To": int(time.time()) + 5}
    r = tenant.http.request("GET", f"/v2/Properties/{tenant.sid}/Messages", json=body)
    v2 = r.json()["Messages"]
    created_in_order = [modern_sid, legacy_sid, failing_sid, service_sid, inbound_sid]
    assert [m["MessageSid"] for m in v2] == created_in_order
    for got in v2:
        assert got == v2_of(truth[got["MessageSid"]])
    r = tenant.http.request("GET", f"/v2/Properties/{service}/Messages", json=body)
    assert {m["MessageSid"] for m in r.json()["Messages"]} == {service_sid, inbound_sid}
