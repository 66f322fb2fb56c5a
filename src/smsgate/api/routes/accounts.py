"""/2010-04-01/Accounts and /Accounts/{Sid}, and the Keys under an account."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.api.auth import authorize, principal
from smsgate.api.context import services
from smsgate.api.params import query, read_form
from smsgate.api.paths import ACCOUNT, ROOT
from smsgate.api.render import instance, page_of, representation
from smsgate.api.serialize import ACCOUNTS, KEYS, key_json
from smsgate.domain.accounts import AccountStatus
from smsgate.domain.paging import parse_page_request
from smsgate.store.base import AccountFilter

STATUSES = tuple(s.value for s in AccountStatus)


async def list_accounts(request: Request) -> Response:
    rep = representation(request)
    who = await principal(request)
    q = query(request)
    page_req = parse_page_request(q.value("PageSize"), q.value("Page"), q.value("PageToken"), "AC")
    status = q.choice("Status", STATUSES)
    flt = AccountFilter(q.value("FriendlyName"), AccountStatus(status) if status else None)
    filters = [(k, v) for k in ("FriendlyName", "Status") if (v := q.value(k)) is not None]
    accounts = services(request).accounts
    return await page_of(
        request, rep, ACCOUNTS, page_req, lambda pr: accounts.list(who, flt, pr), filters
    )


async def create_account(request: Request) -> Response:
    rep = representation(request)
    who = await principal(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    account = await services(request).accounts.create_subaccount(who, form.value("FriendlyName"))
    return instance(rep, ACCOUNTS, account, 201)


async def fetch_account(request: Request) -> Response:
    rep = representation(request)
    _, account = await authorize(request)
    return instance(rep, ACCOUNTS, account)


async def update_account(request: Request) -> Response:
    rep = representation(request)
    who, account = await authorize(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    updated = await services(request).accounts.update(
        who, account, form.value("FriendlyName"), form.value("Status")
    )
    return instance(rep, ACCOUNTS, updated)


async def list_keys(request: Request) -> Response:
    rep = representation(request)
    who, account = await authorize(request)
    q = query(request)
    page_req = parse_page_request(q.value("PageSize"), q.value("Page"), q.value("PageToken"), "SK")
    accounts = services(request).accounts
    return await page_of(
        request, rep, KEYS, page_req, lambda pr: accounts.list_keys(who, account, pr)
    )


async def create_key(request: Request) -> Response:
    rep = representation(request)
    who, account = await authorize(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    key, secret = await services(request).accounts.create_key(
        who, account, form.value("FriendlyName")
    )
    # The secret is shown once, in the create response only.
    with_secret = dataclasses.replace(KEYS, to_body=lambda k, ext: key_json(k, ext, secret))
    return instance(rep, with_secret, key, 201)


async def fetch_key(request: Request) -> Response:
    rep = representation(request)
    who, account = await authorize(request)
    key = await services(request).accounts.get_key(who, account, request.path_params["sid"])
    return instance(rep, KEYS, key)


async def update_key(request: Request) -> Response:
    rep = representation(request)
    who, account = await authorize(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    key = await services(request).accounts.update_key(
        who, account, request.path_params["sid"], form.value("FriendlyName")
    )
    return instance(rep, KEYS, key)


async def delete_key(request: Request) -> Response:
    who, account = await authorize(request)
    await services(request).accounts.delete_key(who, account, request.path_params["sid"])
    return Response(status_code=204)


routes = [
    Route(ROOT + "/Accounts{fmt:fmt}", list_accounts, methods=["GET"]),
    Route(ROOT + "/Accounts{fmt:fmt}", create_account, methods=["POST"]),
    Route(ACCOUNT + "{fmt:fmt}", fetch_account, methods=["GET"]),
    Route(ACCOUNT + "{fmt:fmt}", update_account, methods=["POST"]),
    Route(ACCOUNT + "/Keys{fmt:fmt}", list_keys, methods=["GET"]),
    Route(ACCOUNT + "/Keys{fmt:fmt}", create_key, methods=["POST"]),
    Route(ACCOUNT + "/Keys/{sid:sid}{fmt:fmt}", fetch_key, methods=["GET"]),
    Route(ACCOUNT + "/Keys/{sid:sid}{fmt:fmt}", update_key, methods=["POST"]),
    Route(ACCOUNT + "/Keys/{sid:sid}{fmt:fmt}", delete_key, methods=["DELETE"]),
]
