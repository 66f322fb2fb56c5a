"""Accounts, subaccounts, API keys and authentication, through the SDK and raw HTTP."""

from __future__ import annotations

import subprocess

import httpx
import orjson
import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from tests.conftest import SMSGATE, Server, Tenant, sdk

AUTH_FAILED = {
    "code": 20003,
    "message": "Authenticate",
    "more_info": "https://www.twilio.com/docs/errors/20003",
    "status": 401,
}


def messages_url(server: Server, sid: str) -> str:
    return f"{server.base_url}/2010-04-01/Accounts/{sid}/Messages.json"


def test_account_resource_has_the_spec_fields(server: Server, main_client: Client) -> None:
    r = httpx.get(
        f"{server.base_url}/2010-04-01/Accounts/{server.account_sid}.json",
        auth=(server.account_sid, server.auth_token),
    )
    body = r.json()
    assert set(body) == {
        "auth_token", "date_created", "date_updated", "friendly_name", "owner_account_sid",
        "sid", "status", "subresource_uris", "type", "uri",
    }  # fmt: skip
    assert body["owner_account_sid"] == body["sid"] == server.account_sid
    assert (body["status"], body["type"]) == ("active", "Full")
    assert body["subresource_uris"]["messages"] == (
        f"/2010-04-01/Accounts/{server.account_sid}/Messages.json"
    )
    fetched = main_client.api.v2010.accounts(server.account_sid).fetch()
    assert fetched.friendly_name == "smsgate main account"


@pytest.mark.parametrize(
    "auth",
    [
        None,
        ("AC" + "0" * 32, "wrong"),
        ("SK" + "0" * 32, "wrong"),
        ("nobody", "x"),
        "Basic !!!notbase64",
        "Bearer abc",
    ],
)
def test_bad_credentials_get_401_authenticate(server: Server, auth: object) -> None:
    headers = {"Authorization": auth} if isinstance(auth, str) else {}
    basic = auth if isinstance(auth, tuple) else None
    r = httpx.get(messages_url(server, server.account_sid), auth=basic, headers=headers)
    assert r.status_code == 401
    assert r.json() == AUTH_FAILED
    assert r.headers["www-authenticate"].startswith("Basic")


def test_wrong_token_for_a_real_account(server: Server) -> None:
    r = httpx.get(messages_url(server, server.account_sid), auth=(server.account_sid, "x" * 32))
    assert r.json() == AUTH_FAILED


def test_subaccounts_parent_reaches_child_never_the_reverse(
    server: Server, main_client: Client, tenant: Tenant
) -> None:
    as_parent = httpx.get(
        messages_url(server, tenant.sid), auth=(server.account_sid, server.auth_token)
    )
    assert as_parent.status_code == 200
    as_child = httpx.get(messages_url(server, server.account_sid), auth=(tenant.sid, tenant.token))
    assert as_child.json() == AUTH_FAILED
    sibling = main_client.api.v2010.accounts.create(friendly_name="sibling")
    across = httpx.get(messages_url(server, sibling.sid), auth=(tenant.sid, tenant.token))
    assert across.json() == AUTH_FAILED
    # An unknown account answers exactly like a foreign one: nothing leaks.
    unknown = httpx.get(messages_url(server, "AC" + "f" * 32), auth=(tenant.sid, tenant.token))
    assert unknown.json() == AUTH_FAILED


def test_another_main_account_is_a_stranger(server: Server, tenant: Tenant) -> None:
    out = subprocess.run(
        [SMSGATE, "accounts", "create", *server.store_flags, "--friendly-name", "other"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    other = orjson.loads(out.stdout)
    assert other["friendly_name"] == "other" and other["owner_account_sid"] == other["sid"]
    stranger = httpx.get(messages_url(server, tenant.sid), auth=(other["sid"], other["auth_token"]))
    assert stranger.json() == AUTH_FAILED
    mine = httpx.get(messages_url(server, other["sid"]), auth=(other["sid"], other["auth_token"]))
    assert mine.status_code == 200


def test_list_and_filter_accounts(server: Server, main_client: Client, tenant: Tenant) -> None:
    names = {a.sid: a.friendly_name for a in main_client.api.v2010.accounts.list()}
    assert server.account_sid in names and tenant.sid in names
    only_tenant = tenant.client.api.v2010.accounts.list()
    assert [a.sid for a in only_tenant] == [tenant.sid]
    main_client.api.v2010.accounts(tenant.sid).update(friendly_name="renamed tenant")
    found = main_client.api.v2010.accounts.list(friendly_name="renamed tenant")
    assert tenant.sid in [a.sid for a in found]


def test_suspended_accounts_cannot_send_and_closed_ones_cannot_log_in(
    server: Server, main_client: Client, tenant: Tenant
) -> None:
    sub = main_client.api.v2010.accounts(tenant.sid)
    assert sub.update(status="suspended").status == "suspended"
    with pytest.raises(TwilioRestException) as info:
        tenant.client.messages.create(to="+15558675310", from_=tenant.number, body="x")
    assert (info.value.status, info.value.code) == (403, 10001)
    assert tenant.client.messages.list() == []  # reading still works
    assert sub.update(status="active").status == "active"
    tenant.client.messages.create(to="+15558675310", from_=tenant.number, body="back")
    assert sub.update(status="closed").status == "closed"
    r = tenant.http.get(tenant.url("/Messages.json"))
    assert r.json() == AUTH_FAILED
    with pytest.raises(TwilioException):  # the SDK's list pages raise the base class
        tenant.client.messages.list()
    with pytest.raises(TwilioRestException):
        sub.update(status="active")
    with pytest.raises(TwilioRestException) as info:
        tenant.client.api.v2010.accounts.create(friendly_name="grandchild")


def test_a_subaccount_cannot_change_its_own_status(tenant: Tenant) -> None:
    with pytest.raises(TwilioRestException) as info:
        tenant.client.api.v2010.accounts(tenant.sid).update(status="suspended")
    assert info.value.status == 403


def test_api_keys_lifecycle(server: Server, tenant: Tenant) -> None:
    keys = tenant.client.api.v2010.accounts(tenant.sid)
    new = keys.new_keys.create(friendly_name="ci key")
    assert new.sid.startswith("SK") and len(new.secret) == 32
    listed = keys.keys.list()
    assert [k.sid for k in listed] == [new.sid]
    r = tenant.http.get(tenant.url(f"/Keys/{new.sid}.json")).json()
    assert "secret" not in r and r["friendly_name"] == "ci key"
    assert keys.keys(new.sid).update(friendly_name="renamed").friendly_name == "renamed"

    with_key = sdk(server, new.sid, new.secret, account_sid=tenant.sid)
    sent = with_key.messages.create(to="+15558675310", from_=tenant.number, body="via key")
    assert sent.account_sid == tenant.sid
    # Standard keys cannot manage keys or accounts.
    r = httpx.get(f"{server.base_url}{tenant.url('/Keys.json')}", auth=(new.sid, new.secret))
    assert r.status_code == 403
    # The secret is stored only as a hash.
    stored = server.query("SELECT secret_hash FROM api_keys WHERE sid = ?", (new.sid,))
    assert stored and new.secret not in stored[0][0]
    if server.database_url is None:
        assert new.secret.encode() not in server.db.read_bytes()
    # Deleting the key stops it at once.
    assert keys.keys(new.sid).delete() is True
    with pytest.raises(TwilioRestException) as info:
        with_key.messages.create(to="+15558675310", from_=tenant.number, body="after delete")
    assert info.value.code == 20003
    r = tenant.http.get(tenant.url(f"/Keys/{new.sid}.json"))
    assert r.status_code == 404


def test_a_key_of_one_account_cannot_reach_another(
    server: Server, main_client: Client, tenant: Tenant
) -> None:
    key = tenant.client.api.v2010.accounts(tenant.sid).new_keys.create()
    r = httpx.get(messages_url(server, server.account_sid), auth=(key.sid, key.secret))
    assert r.json() == AUTH_FAILED
