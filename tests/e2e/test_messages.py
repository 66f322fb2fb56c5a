"""The Message resource through the official twilio SDK and raw HTTP, against `smsgate serve`."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import Server, Tenant, random_number, set_status
from tests.fakes.media_host import MediaHost

SID_RE = re.compile(r"^SM[0-9a-f]{32}$")
RFC2822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$"
)
# Every property of api.v2010.account.message in the public spec.
MESSAGE_FIELDS = {
    "body", "num_segments", "direction", "from", "to", "date_updated", "price",
    "error_message", "uri", "account_sid", "num_media", "status", "messaging_service_sid",
    "sid", "date_sent", "date_created", "error_code", "price_unit", "api_version",
    "subresource_uris",
}  # fmt: skip
ENVELOPE = {
    "messages", "end", "first_page_uri", "next_page_uri", "page", "page_size",
    "previous_page_uri", "start", "uri",
}  # fmt: skip


def us(year: int, month: int, day: int, hour: int = 12) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1_000_000)


def create_raw(t: Tenant, **fields: str | list[str]) -> httpx.Response:
    return t.http.post(t.url("/Messages.json"), data=fields)


def count(t: Tenant) -> int:
    return len(t.client.messages.list())


def test_create_with_the_sdk_returns_a_queued_message(idle_tenant: Tenant) -> None:
    m = idle_tenant.client.messages.create(
        to="+15558675310", from_=idle_tenant.number, body="Hi there"
    )
    assert SID_RE.match(m.sid)
    assert (m.status, m.direction, m.body) == ("queued", "outbound-api", "Hi there")
    assert (m.to, m.from_, m.account_sid) == ("+15558675310", idle_tenant.number, idle_tenant.sid)
    assert (m.num_segments, m.num_media, m.price, m.error_code) == ("1", "0", None, None)
    assert m.date_created is not None and m.date_sent is None
    fetched = idle_tenant.client.messages(m.sid).fetch()
    assert (fetched.sid, fetched.body, fetched.status) == (m.sid, "Hi there", "queued")


def test_wire_format_matches_twilio_types(idle_tenant: Tenant) -> None:
    r = create_raw(idle_tenant, To="+15558675310", From=idle_tenant.number, Body="wire")
    assert r.status_code == 201
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == MESSAGE_FIELDS
    assert isinstance(body["num_segments"], str) and isinstance(body["num_media"], str)
    assert body["error_code"] is None and body["price"] is None
    assert RFC2822.match(body["date_created"]) and RFC2822.match(body["date_updated"])
    assert body["api_version"] == "2010-04-01"
    base = f"/2010-04-01/Accounts/{idle_tenant.sid}/Messages/{body['sid']}"
    assert body["uri"] == base + ".json"
    assert body["subresource_uris"] == {
        "media": base + "/Media.json",
        "feedback": base + "/Feedback.json",
    }
    again = idle_tenant.http.get(body["uri"]).json()
    assert again == body


def test_media_makes_an_mm_sid_and_counts_media(tenant: Tenant, media_host: MediaHost) -> None:
    m = tenant.client.messages.create(
        to="+15558675310",
        from_=tenant.number,
        media_url=[media_host.url("/blob/a.png"), media_host.url("/blob/b.jpg")],
    )
    assert re.match(r"^MM[0-9a-f]{32}$", m.sid)
    assert (m.num_media, m.body) == ("2", "")


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, "1"),
        ("a" * 161, "2"),
        ("a" * 159 + "€", "2"),  # the euro sign is an extension character: two septets
        ("ж" * 70, "1"),
        ("ж" * 71, "2"),
        ("😀" * 35, "1"),  # 70 UTF-16 units
        ("😀" * 36, "2"),
    ],
)
def test_segments_are_counted_as_twilio_counts_them(
    tenant: Tenant, body: str, segments: str
) -> None:
    m = tenant.client.messages.create(to="+15558675310", from_=tenant.number, body=body)
    assert m.num_segments == segments


def test_smart_encoding_replaces_lookalikes(tenant: Tenant) -> None:
    r = create_raw(
        tenant, To="+15558675310", From=tenant.number, Body="“Hi” – it’s…", SmartEncoded="true"
    )
    assert r.status_code == 201
    assert r.json()["body"] == '"Hi" - it\'s...'


def test_national_format_to_is_normalised(tenant: Tenant) -> None:
    m = tenant.client.messages.create(to="(555) 867-5310", from_=tenant.number, body="x")
    assert m.to == "+15558675310"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"From": "NUMBER", "Body": "x"}, 21604),
        ({"To": "", "From": "NUMBER", "Body": "x"}, 21604),
        ({"To": "+15558675310", "Body": "x"}, 21603),
        ({"To": "+15558675310", "From": "NUMBER"}, 21602),
        ({"To": "+15558675310", "From": "NUMBER", "Body": ""}, 21602),
        ({"To": "not a number", "From": "NUMBER", "Body": "x"}, 21211),
        ({"To": "+1555", "From": "NUMBER", "Body": "x"}, 21211),
        ({"To": "+15558675310", "From": "+1", "Body": "x"}, 21212),
        ({"To": "+15558675310", "From": "+15005550007", "Body": "x"}, 21606),
        ({"To": "+15558675310", "From": "NUMBER", "Body": "x" * 1601}, 21617),
        ({"To": "NUMBER", "From": "NUMBER", "Body": "x"}, 21266),
        (
            {
                "To": "+15558675310",
                "From": "NUMBER",
                "MediaUrl": [f"https://e.com/{i}.png" for i in range(11)],
            },
            21623,
        ),
        ({"To": "+15558675310", "From": "NUMBER", "MediaUrl": "ftp://e.com/a.png"}, 21620),
        ({"To": "+15558675310", "From": "NUMBER", "Body": "x", "StatusCallback": "nope"}, 21609),
        ({"To": "+15558675310", "From": "NUMBER", "Body": "x", "ValidityPeriod": "0"}, 30012),
        ({"To": "+15558675310", "From": "NUMBER", "Body": "x", "ValidityPeriod": "x"}, 20001),
        ({"To": "+15558675310", "From": "NUMBER", "Body": "x", "SmartEncoded": "maybe"}, 20001),
        ({"To": "+15558675310", "From": "NUMBER", "Body": "x", "ContentRetention": "no"}, 20001),
        ({"To": "+15558675310", "MessagingServiceSid": "MG123", "Body": "x"}, 21701),
    ],
)
def test_invalid_creates_get_twilio_codes_and_write_nothing(
    tenant: Tenant, fields: dict[str, str | list[str]], code: int
) -> None:
    fields = {k: tenant.number if v == "NUMBER" else v for k, v in fields.items()}
    before = count(tenant)
    r = create_raw(tenant, **fields)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == code, body
    assert body["status"] == 400
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert body["message"]
    assert count(tenant) == before


def test_sdk_raises_twilio_rest_exception(tenant: Tenant) -> None:
    with pytest.raises(TwilioRestException) as info:
        tenant.client.messages.create(to="", from_=tenant.number, body="x")
    assert (info.value.status, info.value.code) == (400, 21604)
    assert "A 'To' phone number is required." in info.value.msg


def test_a_number_of_another_account_is_not_a_valid_from(
    tenant: Tenant, main_client: Client
) -> None:
    theirs = main_client.incoming_phone_numbers.create(phone_number=random_number()).phone_number
    r = create_raw(tenant, To="+15558675310", From=theirs, Body="x")
    assert r.json()["code"] == 21606


def test_fetch_unknown_and_malformed_sids_are_404(tenant: Tenant) -> None:
    for sid in ("SM" + "0" * 32, "SMnope", "XX" + "0" * 32):
        r = tenant.http.get(tenant.url(f"/Messages/{sid}.json"))
        assert r.status_code == 404
        assert r.json()["code"] == 20404
        assert r.json()["message"] == f"The requested resource {r.request.url.path} was not found"


def test_list_is_newest_first_and_pages_with_tokens(idle_tenant: Tenant) -> None:
    sids = [
        idle_tenant.client.messages.create(
            to="+15558675310", from_=idle_tenant.number, body=str(i)
        ).sid
        for i in range(7)
    ]
    listed = [m.sid for m in idle_tenant.client.messages.list(page_size=3)]
    assert listed == sids[::-1]
    first = idle_tenant.http.get(idle_tenant.url("/Messages.json"), params={"PageSize": 3}).json()
    assert set(first) == ENVELOPE
    assert (first["page"], first["page_size"], first["start"], first["end"]) == (0, 3, 0, 2)
    assert first["previous_page_uri"] is None
    assert first["next_page_uri"].endswith(f"PageSize=3&Page=1&PageToken=PA{sids[4]}")
    assert first["first_page_uri"] == first["uri"]
    assert first["uri"] == idle_tenant.url("/Messages.json") + "?PageSize=3&Page=0"
    second = idle_tenant.http.get(first["next_page_uri"]).json()
    assert [m["sid"] for m in second["messages"]] == sids[3:0:-1]
    assert (second["page"], second["start"], second["end"]) == (1, 3, 5)
    assert second["previous_page_uri"].endswith(f"Page=0&PageToken=PB{sids[3]}")
    back = idle_tenant.http.get(second["previous_page_uri"]).json()
    assert [m["sid"] for m in back["messages"]] == sids[6:3:-1]
    last = idle_tenant.http.get(second["next_page_uri"]).json()
    assert [m["sid"] for m in last["messages"]] == [sids[0]]
    assert last["next_page_uri"] is None


def test_empty_list_envelope(tenant: Tenant) -> None:
    body = tenant.http.get(tenant.url("/Messages.json"), params={"To": "+15550000000"}).json()
    assert body["messages"] == [] and (body["start"], body["end"]) == (0, 0)
    assert body["next_page_uri"] is None and body["previous_page_uri"] is None
    assert body["uri"] == tenant.url("/Messages.json") + "?To=%2B15550000000&PageSize=50&Page=0"


def test_walking_pages_while_messages_arrive_neither_repeats_nor_skips(idle_tenant: Tenant) -> None:
    existing = {
        idle_tenant.client.messages.create(
            to="+15558675310", from_=idle_tenant.number, body=str(i)
        ).sid
        for i in range(25)
    }
    stop = threading.Event()

    def keep_sending() -> None:
        while not stop.is_set():
            idle_tenant.client.messages.create(
                to="+15558675311", from_=idle_tenant.number, body="new"
            )

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        seen = [m.sid for m in idle_tenant.client.messages.stream(page_size=4)]
    finally:
        stop.set()
        sender.join()
    assert len(seen) == len(set(seen)), "a walk returned a message twice"
    assert existing <= set(seen), "a walk skipped a message that existed when it began"


def test_deleting_a_whole_page_does_not_break_the_walk(
    idle_server: Server, idle_tenant: Tenant
) -> None:
    sids = [
        idle_tenant.client.messages.create(
            to="+15558675310", from_=idle_tenant.number, body=str(i)
        ).sid
        for i in range(6)
    ]
    for sid in sids:
        set_status(idle_server, sid, "delivered")
    deleted = []
    for message in idle_tenant.client.messages.stream(page_size=2):
        message.delete()
        deleted.append(message.sid)
    assert sorted(deleted) == sorted(sids)
    assert idle_tenant.client.messages.list() == []


def test_filters_by_to_and_from(idle_tenant: Tenant) -> None:
    other = idle_tenant.client.incoming_phone_numbers.create(
        phone_number="+15017120000"
    ).phone_number
    a = idle_tenant.client.messages.create(
        to="+15558675310", from_=idle_tenant.number, body="a"
    ).sid
    b = idle_tenant.client.messages.create(
        to="+15558675311", from_=idle_tenant.number, body="b"
    ).sid
    c = idle_tenant.client.messages.create(to="+15558675310", from_=other, body="c").sid
    assert [m.sid for m in idle_tenant.client.messages.list(to="+15558675310")] == [c, a]
    assert [m.sid for m in idle_tenant.client.messages.list(from_=idle_tenant.number)] == [b, a]
    both = idle_tenant.client.messages.list(to="+15558675310", from_=other)
    assert [m.sid for m in both] == [c]
    idle_tenant.client.incoming_phone_numbers.list(phone_number=other)[0].delete()


def test_date_sent_filters_accept_twilio_forms(idle_server: Server, idle_tenant: Tenant) -> None:
    sids = {}
    for day in (14, 15, 16):
        sid = idle_tenant.client.messages.create(
            to="+15558675310", from_=idle_tenant.number, body=str(day)
        ).sid
        set_status(idle_server, sid, "delivered", us(2021, 1, day))
        sids[day] = sid
    unsent = idle_tenant.client.messages.create(
        to="+15558675310", from_=idle_tenant.number, body="u"
    ).sid

    def listed(**params: str) -> list[str]:
        r = idle_tenant.http.get(idle_tenant.url("/Messages.json"), params=params)
        assert r.status_code == 200, r.text
        return [m["sid"] for m in r.json()["messages"]]

    assert listed() == [sids[16], sids[15], sids[14], unsent]
    assert listed(DateSent="2021-01-15") == [sids[15]]
    assert listed(**{"DateSent<": "2021-01-15"}) == [sids[15], sids[14]]
    assert listed(**{"DateSent>": "2021-01-15"}) == [sids[16], sids[15]]
    assert listed(**{"DateSent>": "2021-01-15T13:00:00Z"}) == [sids[16]]
    assert listed(**{"DateSent<": "2021-01-15T12:00:00Z"}) == [sids[15], sids[14]]
    assert listed(DateSent="Fri, 15 Jan 2021 12:00:00 -0000") == [sids[15]]
    assert listed(**{"DateSent>": "01/15/2021 06:00:00 MST"}) == [sids[16]]
    assert listed(**{"DateSent>": "2021-01-15 12:00:00.000"}) == [sids[16], sids[15]]
    # The SDK sends datetimes as ISO 8601.
    sdk = idle_tenant.client.messages.list(
        date_sent_after=datetime(2021, 1, 15, tzinfo=UTC),
        date_sent_before=datetime(2021, 1, 16, tzinfo=UTC),
    )
    assert [m.sid for m in sdk] == [sids[15]]
    assert idle_tenant.client.messages(sids[15]).fetch().date_sent == datetime(
        2021, 1, 15, 12, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "params",
    [
        {"DateSent": "yesterday"},
        {"DateSent": "2021-13-45"},
        {"DateSent<": "1"},
        {"PageSize": "0"},
        {"PageSize": "1001"},
        {"PageSize": "ten"},
        {"Page": "-1"},
        {"PageToken": "garbage"},
        {"PageToken": "PA" + "SM" + "0" * 32},
    ],
)
def test_bad_list_parameters_are_400_not_empty(tenant: Tenant, params: dict[str, str]) -> None:
    r = tenant.http.get(tenant.url("/Messages.json"), params=params)
    assert r.status_code == 400, r.text
    assert r.json()["status"] == 400


def test_redact_only_once_final(idle_server: Server, idle_tenant: Tenant) -> None:
    m = idle_tenant.client.messages.create(
        to="+15558675310", from_=idle_tenant.number, body="secret"
    )
    with pytest.raises(TwilioRestException) as info:
        idle_tenant.client.messages(m.sid).update(body="")
    assert info.value.code == 20009
    assert idle_tenant.client.messages(m.sid).fetch().body == "secret"
    set_status(idle_server, m.sid, "delivered")
    redacted = idle_tenant.client.messages(m.sid).update(body="")
    assert (redacted.body, redacted.status, redacted.to) == ("", "delivered", "+15558675310")
    assert idle_tenant.client.messages(m.sid).fetch().body == ""
    r = idle_tenant.http.post(idle_tenant.url(f"/Messages/{m.sid}.json"), data={"Body": "new text"})
    assert r.status_code == 400


def test_cancel_is_only_for_scheduled_messages(idle_tenant: Tenant) -> None:
    m = idle_tenant.client.messages.create(to="+15558675310", from_=idle_tenant.number, body="x")
    with pytest.raises(TwilioRestException) as info:
        idle_tenant.client.messages(m.sid).update(status="canceled")
    assert (info.value.status, info.value.code) == (400, 30409)
    r = idle_tenant.http.post(idle_tenant.url(f"/Messages/{m.sid}.json"), data={"Status": "sent"})
    assert r.status_code == 400


def test_delete_waits_for_a_final_status(idle_server: Server, idle_tenant: Tenant) -> None:
    m = idle_tenant.client.messages.create(to="+15558675310", from_=idle_tenant.number, body="x")
    with pytest.raises(TwilioRestException) as info:
        idle_tenant.client.messages(m.sid).delete()
    assert info.value.code == 20009
    set_status(idle_server, m.sid, "undelivered")
    assert idle_tenant.client.messages(m.sid).delete() is True
    for method in ("GET", "DELETE"):
        r = idle_tenant.http.request(method, idle_tenant.url(f"/Messages/{m.sid}.json"))
        assert (r.status_code, r.json()["code"]) == (404, 20404)


def test_other_accounts_messages_are_invisible(
    server: Server, tenant: Tenant, main_client: object
) -> None:
    m = tenant.client.messages.create(to="+15558675310", from_=tenant.number, body="mine")
    # The main account may read its subaccount's messages through the subaccount's URL ...
    r = httpx.get(
        server.base_url + tenant.url(f"/Messages/{m.sid}.json"),
        auth=(server.account_sid, server.auth_token),
    )
    assert r.status_code == 200
    # ... but the message is not in the main account's own list or URL space.
    r = httpx.get(
        f"{server.base_url}/2010-04-01/Accounts/{server.account_sid}/Messages/{m.sid}.json",
        auth=(server.account_sid, server.auth_token),
    )
    assert r.status_code == 404


def test_unknown_routes_methods_and_big_bodies_get_twilio_errors(tenant: Tenant) -> None:
    r = tenant.http.get("/2010-04-01/Nope.json")
    assert (r.status_code, r.json()["code"]) == (404, 20404)
    r = tenant.http.put(tenant.url("/Messages.json"), data={"To": "+15558675310"})
    assert r.status_code == 405
    assert set(r.json()) == {"code", "message", "more_info", "status"}
    r = create_raw(tenant, To="+15558675310", From=tenant.number, Body="x" * 2_000_000)
    assert (r.status_code, r.json()["status"]) == (413, 413)
    r = tenant.http.get(tenant.url("/Nope"))  # no suffix: the error is XML
    assert r.status_code == 404
    assert b"<RestException><Code>20404</Code>" in r.content
