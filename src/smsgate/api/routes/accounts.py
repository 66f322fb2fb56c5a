"""/2010-04-01/Accounts and /Accounts/{Sid}, and the Keys under an account."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.api.auth import authorize, principal
from smsgate.api.context import require_json, services
from smsgate.api.params import query, read_form
from smsgate.api.paths import ACCOUNT, ROOT
from smsgate.api.serialize import account_json, json_response, key_json, list_json
from smsgate.domain.accounts import AccountStatus
from smsgate.domain.paging import parse_page_request
from smsgate.store.base import AccountFilter

STATUSES = tuple(s.value for s in AccountStatus)


async def list_accounts(request: Request) -> Response:
    require_json(request)
    who = await principal(request)
    q = query(request)
    page_req = parse_page_request(q.value("PageSize"), q.value("Page"), q.value("PageToken"), "AC")
    status = q.choice("Status", STATUSES)
    flt = AccountFilter(q.value("FriendlyName"), AccountStatus(status) if status else None)
    page = await services(request).accounts.list(who, flt, page_req)
    filters = [(k, v) for k in ("FriendlyName", "Status") if (v := q.value(k)) is not None]
    return json_response(
        list_json(
            "accounts", page, page_req, request.url.path, filters, account_json, lambda a: a.sid
        )
    )


async def create_account(request: Request) -> Response:
    require_json(request)
    who = await principal(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    account = await services(request).accounts.create_subaccount(who, form.value("FriendlyName"))
    return json_response(account_json(account), 201)


async def fetch_account(request: Request) -> Response:
    require_json(request)
    _, account = await authorize(request)
    return json_response(account_json(account))


async def update_account(request: Request) -> Response:
    require_json(request)
    who, account = await authorize(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    updated = await services(request).accounts.update(
        who, account, form.value("FriendlyName"), form.value("Status")
    )
    return json_response(account_json(updated))


async def list_keys(request: Request) -> Response:
    require_json(request)
    who, account = await authorize(request)
    q = query(request)
    page_req = parse_page_request(q.value("PageSize"), q.value("Page"), q.value("PageToken"), "SK")
    page = await services(request).accounts.list_keys(who, account, page_req)
    return json_response(
        list_json("keys", page, page_req, request.url.path, [], key_json, lambda k: k.sid)
    )


async def create_key(request: Request) -> Response:
    require_json(request)
    who, account = await authorize(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    key, secret = await services(request).accounts.create_key(
        who, account, form.value("FriendlyName")
    )
    return json_response(key_json(key, secret), 201)


async def fetch_key(request: Request) -> Response:
    require_json(request)
    who, account = await authorize(request)
    key = await services(request).accounts.get_key(who, account, request.path_params["sid"])
    return json_response(key_json(key))


async def update_key(request: Request) -> Response:
    require_json(request)
    who, account = await authorize(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    key = await services(request).accounts.update_key(
        who, account, request.path_params["sid"], form.value("FriendlyName")
    )
    return json_response(key_json(key))


async def delete_key(request: Request) -> Response:
    require_json(request)
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
