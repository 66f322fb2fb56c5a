"""MMS media end to end: fetched by the worker from a local media host, stored once per
content, listed and served through the official SDK, deleted with their messages; and
MessageFeedback."""

from __future__ import annotations

import hashlib
import secrets
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException

from tests.conftest import Launcher, Server, Tenant, make_tenant, sdk, wait_until
from tests.fakes.media_host import MediaHost, content_of

TO = "+15558675310"


def token() -> str:
    return secrets.token_hex(6)


def stored_file(server: Server, content: bytes) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    return server.data_dir / "media" / digest[:2] / digest


def settled(tenant: Tenant, sid: str, statuses: tuple[str, ...] = ("delivered", "failed")) -> Any:
    return wait_until(
        lambda: (m := tenant.client.messages(sid).fetch()).status in statuses and m, timeout=30
    )


def test_media_are_fetched_listed_and_served(
    server: Server, tenant: Tenant, media_host: MediaHost
) -> None:
    png, pdf = token(), token()
    m = tenant.client.messages.create(
        to=TO,
        from_=tenant.number,
        body="look",
        media_url=[media_host.url(f"/blob/{png}.png"), media_host.url(f"/blob/{pdf}.pdf")],
    )
    assert m.sid.startswith("MM")
    assert (m.num_media, m.status) == ("2", "queued")
    done = settled(tenant, m.sid)
    assert done.status == "delivered", (done.error_code, done.error_message)

    media = tenant.client.messages(m.sid).media.list()
    assert [x.content_type for x in media] == ["image/png", "application/pdf"]
    for x in media:
        assert x.sid.startswith("ME")
        assert (x.parent_sid, x.account_sid) == (m.sid, tenant.sid)
        assert x.uri == tenant.url(f"/Messages/{m.sid}/Media/{x.sid}.json")
        assert x.date_created is not None
    fetched = tenant.client.messages(m.sid).media(media[0].sid).fetch()
    assert (fetched.sid, fetched.content_type) == (media[0].sid, "image/png")

    # the content, at the URI without a suffix, to the account's credentials only
    content = tenant.http.get(tenant.url(f"/Messages/{m.sid}/Media/{media[1].sid}"))
    assert content.status_code == 200
    assert content.headers["content-type"] == "application/pdf"
    assert content.content == content_of(pdf)
    anonymous = httpx.get(server.base_url + tenant.url(f"/Messages/{m.sid}/Media/{media[1].sid}"))
    assert anonymous.status_code == 401
    assert stored_file(server, content_of(png)).read_bytes() == content_of(png)

    # XML like every 2010 resource, and the paging and date filters
    xml = tenant.http.get(tenant.url(f"/Messages/{m.sid}/Media.xml"))
    assert xml.headers["content-type"].startswith("application/xml")
    assert b"<MediaList" in xml.content and b"<ContentType>image/png</ContentType>" in xml.content
    page = tenant.http.get(tenant.url(f"/Messages/{m.sid}/Media.json"), params={"PageSize": 1})
    body = page.json()
    assert [x["sid"] for x in body["media_list"]] == [media[0].sid]
    follow = tenant.http.get(body["next_page_uri"]).json()
    assert [x["sid"] for x in follow["media_list"]] == [media[1].sid]
    assert len(tenant.client.messages(m.sid).media.list(page_size=1)) == 2
    today = done.date_created.date().isoformat()
    after = tenant.http.get(
        tenant.url(f"/Messages/{m.sid}/Media.json"), params={"DateCreated>": "2999-01-01"}
    )
    assert after.json()["media_list"] == []
    on_day = tenant.http.get(
        tenant.url(f"/Messages/{m.sid}/Media.json"), params={"DateCreated": today}
    )
    assert len(on_day.json()["media_list"]) == 2


def test_redirects_within_the_limit_are_followed(tenant: Tenant, media_host: MediaHost) -> None:
    t = token()
    m = tenant.client.messages.create(
        to=TO, from_=tenant.number, media_url=[media_host.url(f"/redirect/3/{t}.gif")]
    )
    assert settled(tenant, m.sid).status == "delivered"
    (media,) = tenant.client.messages(m.sid).media.list()
    assert media.content_type == "image/gif"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/blob/{t}.html", 12300),  # not an accepted type
        ("/untyped", 12300),  # no Content-Type at all
        ("/big/5242881.jpg", 30019),  # 5 MB + 1 for an image, with a Content-Length
        ("/chunked/5242881.png", 30019),  # the same without one: cut off while reading
        ("/big/512001.pdf", 30019),  # 500 KB + 1 for another accepted type
        ("/redirect/6/{t}.png", 11215),  # more than 5 redirects
        ("/missing/{t}.png", 11200),  # 404
    ],
)
def test_unusable_media_fail_the_message_with_twilios_code(
    server: Server, tenant: Tenant, media_host: MediaHost, path: str, code: int
) -> None:
    good = token()
    m = tenant.client.messages.create(
        to=TO,
        from_=tenant.number,
        media_url=[media_host.url(f"/blob/{good}.png"), media_host.url(path.format(t=token()))],
    )
    done = settled(tenant, m.sid)
    assert (done.status, done.error_code) == ("failed", code)
    assert done.error_message
    assert tenant.client.messages(m.sid).media.list() == []
    assert not stored_file(server, content_of(good)).exists()


def test_an_image_of_exactly_5_mb_is_accepted(tenant: Tenant, media_host: MediaHost) -> None:
    m = tenant.client.messages.create(
        to=TO, from_=tenant.number, media_url=[media_host.url(f"/big/{5 * 1024 * 1024}.jpg")]
    )
    assert settled(tenant, m.sid).status == "delivered"


def test_bad_media_urls_are_refused_at_create(tenant: Tenant, media_host: MediaHost) -> None:
    url = tenant.url("/Messages.json")
    many = [media_host.url(f"/blob/{i}.png") for i in range(11)]
    for media, code in ((many, 21623), (["not a url"], 21620), (["ftp://h/a.png"], 21620)):
        r = tenant.http.post(url, data={"To": TO, "From": tenant.number, "MediaUrl": media})
        assert (r.status_code, r.json()["code"]) == (400, code)
    assert media_host.requests == []


def test_a_slow_media_host_does_not_hold_up_other_messages(
    tenant: Tenant, media_host: MediaHost
) -> None:
    t = token()
    mms = tenant.client.messages.create(
        to=TO, from_=tenant.number, media_url=[media_host.url(f"/slow/{t}.png")]
    )
    assert media_host.started.wait(20)
    sms = tenant.client.messages.create(to="+15558675311", from_=tenant.number, body="go")
    assert settled(tenant, sms.sid).status == "delivered"
    assert tenant.client.messages(mms.sid).fetch().status == "queued"
    media_host.release()
    assert settled(tenant, mms.sid).status == "delivered"


def test_identical_content_is_stored_once_and_removed_with_its_last_message(
    server: Server, tenant: Tenant, media_host: MediaHost
) -> None:
    t = token()
    first, second = (
        tenant.client.messages.create(
            to=TO, from_=tenant.number, media_url=[media_host.url(f"/blob/{t}.png")]
        )
        for _ in range(2)
    )
    for m in (first, second):
        assert settled(tenant, m.sid).status == "delivered"
    path = stored_file(server, content_of(t))
    assert path.exists()
    (second_media,) = tenant.client.messages(second.sid).media.list()

    assert tenant.client.messages(first.sid).delete()
    assert path.exists()  # the second message still refers to it
    listing = tenant.http.get(tenant.url(f"/Messages/{first.sid}/Media.json"))
    assert listing.status_code == 404  # the message and its media are gone
    served = tenant.http.get(tenant.url(f"/Messages/{second.sid}/Media/{second_media.sid}"))
    assert served.content == content_of(t)

    assert tenant.client.messages(second.sid).media(second_media.sid).delete()
    assert tenant.client.messages(second.sid).media.list() == []
    assert not path.exists()
    gone = tenant.http.get(tenant.url(f"/Messages/{second.sid}/Media/{second_media.sid}.json"))
    assert gone.status_code == 404


def test_deleting_a_message_deletes_its_media(
    server: Server, tenant: Tenant, media_host: MediaHost
) -> None:
    t = token()
    m = tenant.client.messages.create(
        to=TO, from_=tenant.number, media_url=[media_host.url(f"/blob/{t}.jpg")]
    )
    assert settled(tenant, m.sid).status == "delivered"
    (media,) = tenant.client.messages(m.sid).media.list()
    assert tenant.client.messages(m.sid).delete()
    r = tenant.http.get(tenant.url(f"/Messages/{m.sid}/Media/{media.sid}.json"))
    assert r.status_code == 404
    assert not stored_file(server, content_of(t)).exists()


def test_other_accounts_cannot_see_media(
    server: Server, main_client: Any, tenant: Tenant, media_host: MediaHost
) -> None:
    m = tenant.client.messages.create(
        to=TO, from_=tenant.number, media_url=[media_host.url(f"/blob/{token()}.png")]
    )
    assert settled(tenant, m.sid).status == "delivered"
    (media,) = tenant.client.messages(m.sid).media.list()
    tenants = make_tenant(server, main_client)
    other = next(tenants)
    path = f"/Messages/{m.sid}/Media/{media.sid}"
    assert other.http.get(tenant.url(path)).status_code in (401, 404)
    assert other.http.get(other.url(path)).status_code == 404


def test_feedback(tenant: Tenant) -> None:
    m = tenant.client.messages.create(
        to=TO, from_=tenant.number, body="your code is 1234", provide_feedback=True
    )
    assert m.subresource_uris["feedback"] == tenant.url(f"/Messages/{m.sid}/Feedback.json")
    fb = tenant.client.messages(m.sid).feedback.create(outcome="confirmed")
    assert (fb.message_sid, fb.account_sid, fb.outcome) == (m.sid, tenant.sid, "confirmed")
    assert fb.uri == tenant.url(f"/Messages/{m.sid}/Feedback.json")
    assert fb.date_created is not None

    url = tenant.url(f"/Messages/{m.sid}/Feedback.json")
    again = tenant.http.post(url, data={"Outcome": "unconfirmed"})
    assert again.status_code == 200
    assert again.json()["outcome"] == "unconfirmed"
    assert set(again.json()) == {
        "account_sid", "message_sid", "outcome", "date_created", "date_updated", "uri",
    }  # fmt: skip
    bad = tenant.http.post(url, data={"Outcome": "clicked"})
    assert (bad.status_code, bad.json()["code"]) == (400, 20001)
    with pytest.raises(TwilioRestException) as missing:
        tenant.client.messages("SM" + "0" * 32).feedback.create(outcome="confirmed")
    assert missing.value.status == 404
    xml = tenant.http.post(tenant.url(f"/Messages/{m.sid}/Feedback"), data={"Outcome": "confirmed"})
    assert b"<MessageFeedback><AccountSid>" in xml.content


def test_inbound_media_are_stored_and_the_webhook_points_at_them(
    server: Server, tenant: Tenant, media_host: MediaHost, receiver: Any
) -> None:
    tenant.client.incoming_phone_numbers.list()[0].update(sms_url=receiver.url("/ok/in"))
    t = token()
    r = tenant.http.post(
        "/simulator/inbound",
        data={
            "From": TO,
            "To": tenant.number,
            "Body": "pic",
            "MediaUrl": [media_host.url(f"/blob/{t}.png"), media_host.url(f"/blob/{t}.pdf")],
        },
    )
    assert r.status_code == 201, r.text
    sid = r.json()["sid"]
    assert sid.startswith("MM") and r.json()["num_media"] == "2"
    hit = wait_until(lambda: receiver.for_message(sid))[0]
    p = hit.params
    assert p["NumMedia"] == "2"
    media = tenant.client.messages(sid).media.list()
    assert [x.content_type for x in media] == ["image/png", "application/pdf"]
    for i, x in enumerate(media):
        assert p[f"MediaUrl{i}"] == server.base_url + tenant.url(f"/Messages/{sid}/Media/{x.sid}")
        assert p[f"MediaContentType{i}"] == x.content_type
    served = httpx.get(p["MediaUrl0"], auth=(tenant.sid, tenant.token))
    assert served.content == content_of(t)

    bad = tenant.http.post(
        "/simulator/inbound",
        data={"From": TO, "To": tenant.number, "MediaUrl": media_host.url("/blob/x.html")},
    )
    assert (bad.status_code, bad.json()["code"]) == (400, 12300)


def test_a_crash_during_the_fetch_loses_nothing(
    launch: Launcher, tmp_path: Path, media_host: MediaHost
) -> None:
    data = tmp_path / "data"
    args = ["--lease-seconds", "2"]
    first = launch(data, args=args)
    client = sdk(first, first.account_sid, first.auth_token)
    t = token()
    m = client.messages.create(
        to=TO, from_=first.test_number, body="kept", media_url=[media_host.url(f"/slow/{t}.png")]
    )
    assert media_host.started.wait(20)
    first.stop(signal.SIGKILL)

    media_host.release()
    second = launch(data, args=args)
    try:
        client = sdk(second, second.account_sid or first.account_sid, first.auth_token)
        done = wait_until(
            lambda: (x := client.messages(m.sid).fetch()).status in ("delivered", "failed") and x,
            timeout=30,
        )
        assert done.status == "delivered", (done.error_code, done.error_message)
        (media,) = client.messages(m.sid).media.list()
        content = httpx.get(
            second.base_url + f"/2010-04-01/Accounts/{first.account_sid}/Messages/{m.sid}"
            f"/Media/{media.sid}",
            auth=(first.account_sid, first.auth_token),
        )
        assert content.content == content_of(t)
    finally:
        assert second.stop() == 0, second.log.read_text()
