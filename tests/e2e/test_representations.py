"""Every 2010-04-01 resource in XML (no suffix or ``.xml``), JSON (``.json``) and CSV.

XML is parsed (defusedxml) and checked by structure; CSV with the csv module.
"""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.conftest import Server, Tenant, wait_until
from tests.xmlhelp import csv_rows, fields, only_child, rest_exception, xml

TO = "+15558675310"


def status(tenant: Tenant, sid: str) -> str:
    return str(tenant.http.get(tenant.url(f"/Messages/{sid}.json")).json()["status"])


def send(tenant: Tenant, body: str, to: str = TO) -> str:
    r = tenant.http.post(
        tenant.url("/Messages.json"), data={"To": to, "From": tenant.number, "Body": body}
    )
    assert r.status_code == 201, r.text
    sid: str = r.json()["sid"]
    return sid


@pytest.mark.parametrize("suffix", ["", ".xml"])
def test_a_message_in_xml_has_every_json_field_in_camel_case(tenant: Tenant, suffix: str) -> None:
    sid = send(tenant, "Hello <xml> & friends")
    as_json = tenant.http.get(tenant.url(f"/Messages/{sid}.json")).json()
    r = tenant.http.get(tenant.url(f"/Messages/{sid}{suffix}"))
    assert r.status_code == 200
    got = fields(only_child(xml(r), "Message"))
    camel = {"".join(p.capitalize() for p in k.split("_")): v for k, v in as_json.items()}
    assert set(got) == set(camel)
    assert got["Body"] == "Hello <xml> & friends"
    assert got["Sid"] == sid
    assert got["From"] == tenant.number
    # URIs keep the representation: no suffix in XML, so following them stays in XML.
    assert got["Uri"] == f"/2010-04-01/Accounts/{tenant.sid}/Messages/{sid}"
    assert got["SubresourceUris"] == {
        "Media": f"/2010-04-01/Accounts/{tenant.sid}/Messages/{sid}/Media",
        "Feedback": f"/2010-04-01/Accounts/{tenant.sid}/Messages/{sid}/Feedback",
    }
    assert as_json["uri"].endswith(f"{sid}.json")
    # null is an empty element, as Twilio writes <Price/>.
    assert got["ErrorCode"] == "" and as_json["error_code"] is None
    assert tenant.http.get(tenant.url(got["Uri"].split(tenant.sid, 1)[1])).status_code == 200


def test_create_in_xml_answers_201_with_the_message(tenant: Tenant) -> None:
    r = tenant.http.post(
        tenant.url("/Messages"), data={"To": TO, "From": tenant.number, "Body": "via xml"}
    )
    assert r.status_code == 201
    message = fields(only_child(xml(r), "Message"))
    assert (message["Status"], message["Body"], message["NumSegments"]) == (
        "queued",
        "via xml",
        "1",
    )
    assert tenant.client.messages(message["Sid"]).fetch().body == "via xml"


def test_accounts_keys_and_numbers_have_xml_too(tenant: Tenant) -> None:
    account = fields(only_child(xml(tenant.http.get(tenant.url(""))), "Account"))
    assert account["Sid"] == tenant.sid
    assert account["SubresourceUris"]["Messages"] == f"/2010-04-01/Accounts/{tenant.sid}/Messages"
    numbers = only_child(
        xml(tenant.http.get(tenant.url("/IncomingPhoneNumbers"))), "IncomingPhoneNumbers"
    )
    (number,) = list(numbers)
    got = fields(number)
    assert got["PhoneNumber"] == tenant.number
    assert got["Capabilities"] == {"Fax": "false", "MMS": "true", "SMS": "true", "Voice": "false"}
    r = tenant.http.post(tenant.url("/Keys"), data={"FriendlyName": "k"})
    assert r.status_code == 201
    key = fields(only_child(xml(r), "Key"))
    assert set(key) == {"DateCreated", "DateUpdated", "FriendlyName", "Sid", "Secret"}
    listed = only_child(xml(tenant.http.get(tenant.url("/Keys"))), "Keys")
    assert [fields(k)["Sid"] for k in listed] == [key["Sid"]]
    assert "Secret" not in fields(listed[0])


def test_an_xml_list_carries_paging_in_attributes_and_its_uris_stay_xml(tenant: Tenant) -> None:
    sids = [send(tenant, f"page {i}") for i in range(3)]
    # Lists order by date sent (unsent last), so a message sent between two pages moves
    # between them: walk the pages once the three have settled.
    wait_until(lambda: all(status(tenant, sid) == "delivered" for sid in sids))
    r = tenant.http.get(tenant.url("/Messages"), params={"PageSize": 2})
    listing = only_child(xml(r), "Messages")
    assert set(listing.attrib) == {
        "page", "pagesize", "start", "end", "uri", "firstpageuri", "nextpageuri", "previouspageuri"
    }  # fmt: skip
    assert (listing.get("page"), listing.get("pagesize"), listing.get("start"), listing.get("end")) == (
        "0", "2", "0", "1"
    )  # fmt: skip
    assert listing.get("previouspageuri") == ""
    assert [c.tag for c in listing] == ["Message", "Message"]
    first = [fields(c)["Sid"] for c in listing]
    nxt = listing.get("nextpageuri")
    assert nxt is not None and nxt.startswith(f"/2010-04-01/Accounts/{tenant.sid}/Messages?")
    second = only_child(xml(tenant.http.get(nxt)), "Messages")
    walked = first + [fields(c)["Sid"] for c in second]
    assert sorted(walked) == sorted(sids) and len(walked) == 3
    assert second.get("nextpageuri") == ""
    assert second.get("previouspageuri", "").startswith(
        f"/2010-04-01/Accounts/{tenant.sid}/Messages?"
    )


def test_csv_lists_have_a_header_and_the_whole_list_unless_a_page_is_named(tenant: Tenant) -> None:
    sids = {send(tenant, f'csv, "quoted" {i}') for i in range(3)}
    rows = csv_rows(tenant.http.get(tenant.url("/Messages.csv")))
    assert {r["Sid"] for r in rows} == sids
    assert list(rows[0]) == [
        "AccountSid", "ApiVersion", "Body", "DateCreated", "DateSent", "DateUpdated",
        "Direction", "ErrorCode", "ErrorMessage", "From", "MessagingServiceSid", "NumMedia",
        "NumSegments", "Price", "PriceUnit", "Sid", "Status", "To", "Uri",
    ]  # fmt: skip
    assert all(r["Body"].startswith('csv, "quoted" ') for r in rows)
    one = csv_rows(tenant.http.get(tenant.url("/Messages.csv"), params={"PageSize": 1}))
    assert len(one) == 1
    # An empty list is a header alone.
    empty = tenant.http.get(tenant.url("/Messages.csv"), params={"To": "+15550001111"})
    assert empty.text.splitlines() == [empty.text.splitlines()[0]]
    assert empty.text.startswith("AccountSid,")
    # One resource as CSV: a header and one row.
    (row,) = csv_rows(tenant.http.get(tenant.url(f"/Messages/{sorted(sids)[0]}.csv")))
    assert row["Sid"] == sorted(sids)[0]
    numbers = csv_rows(tenant.http.get(tenant.url("/IncomingPhoneNumbers.csv")))
    assert [n["PhoneNumber"] for n in numbers] == [tenant.number]


@pytest.mark.slow
def test_a_csv_list_longer_than_one_read_chunk_streams_every_row(idle_tenant: Tenant) -> None:
    # 1,000 rows are read per chunk (smsgate.api.render.CSV_CHUNK); 1,003 messages need two.
    created = set()
    for i in range(1003):
        r = idle_tenant.http.post(
            idle_tenant.url("/Messages.json"),
            data={"To": f"+1555867{i % 10000:04d}", "From": idle_tenant.number, "Body": str(i)},
        )
        assert r.status_code == 201, r.text
        created.add(r.json()["sid"])
    with idle_tenant.http.stream("GET", idle_tenant.url("/Messages.csv")) as r:
        assert r.headers.get("transfer-encoding") == "chunked"
        text = "".join(r.iter_text())
    sids = [row["Sid"] for row in csv.DictReader(io.StringIO(text))]
    assert len(sids) == 1003
    assert set(sids) == created and len(sids) == len(set(sids))


def test_errors_follow_the_representation(server: Server, tenant: Tenant) -> None:
    # XML (no suffix): <RestException> with Twilio's code and the HTTP status.
    r = tenant.http.get(tenant.url("/Messages/SM00000000000000000000000000000000"))
    assert r.status_code == 404
    exc = rest_exception(r)
    assert (exc["Code"], exc["Status"]) == ("20404", "404")
    assert exc["MoreInfo"] == "https://www.twilio.com/docs/errors/20404"
    r = tenant.http.post(tenant.url("/Messages"), data={"From": tenant.number, "Body": "x"})
    assert (r.status_code, rest_exception(r)["Code"]) == (400, "21604")
    r = httpx.get(server.base_url + tenant.url("/Messages"), auth=(tenant.sid, "wrong"))
    assert (r.status_code, rest_exception(r)["Code"]) == (401, "20003")
    assert r.headers["www-authenticate"] == 'Basic realm="Twilio API"'
    r = tenant.http.put(tenant.url("/Messages"))
    assert (r.status_code, rest_exception(r)["Code"]) == (405, "20004")
    assert r.headers["allow"] == "GET, HEAD, POST"
    # .csv cannot carry an error: it is XML there too.
    r = tenant.http.get(tenant.url("/Messages.csv"), params={"PageSize": 0})
    assert (r.status_code, rest_exception(r)["Code"]) == (400, "20001")
    # .json stays JSON.
    r = tenant.http.get(tenant.url("/Messages/SM00000000000000000000000000000000.json"))
    assert r.status_code == 404 and r.json()["code"] == 20404
    # Outside 2010-04-01 errors stay JSON whatever the path looks like.
    assert httpx.get(server.base_url + "/nope").json()["code"] == 20404
