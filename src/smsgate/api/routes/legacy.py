"""/2010-04-01/Accounts/{AccountSid}/SMS/Messages[/{Sid}]: Twilio's deprecated SMS resource.

The same messages as ``/Messages``, through the same service (smsgate.services.messages):
a message sent here is an ordinary outbound message, visible in every API, and every message
(inbound, replies, sent through a Messaging Service) is listed here in the legacy vocabulary.
PUT and DELETE (and POST on one message) are not supported: Starlette answers 405, rendered
by api/errors.py, and nothing changes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.api.auth import authorize
from smsgate.api.context import services
from smsgate.api.params import query, read_form
from smsgate.api.paths import ACCOUNT
from smsgate.api.render import (
    CSV_CHUNK,
    Representation,
    csv_list,
    envelope,
    instance,
    representation,
    wants_one_page,
)
from smsgate.api.routes.messages import list_filter
from smsgate.api.serialize_legacy import SMS_MESSAGES, legacy_paging
from smsgate.domain.messages import CreateRequest
from smsgate.domain.paging import PageRequest, parse_page_request


async def send(request: Request) -> Response:
    rep = representation(request)
    svc = services(request)
    _, account = await authorize(request, svc)
    form = await read_form(request, svc.settings.max_body_bytes)
    req = CreateRequest(
        to=form.value("To"),
        from_=form.value("From"),
        body=form.value("Body"),
        status_callback=form.value("StatusCallback"),
    )
    message = await svc.messages.create(account, req)
    return instance(rep, SMS_MESSAGES, message, 201)


async def list_sms(request: Request) -> Response:
    rep = representation(request)
    _, account = await authorize(request)
    q = query(request)
    # Legacy paging is Page and PageSize (an offset); PageToken is not part of it.
    page_req = parse_page_request(q.value("PageSize"), q.value("Page"), None)
    flt, filters = list_filter(q)
    messages = services(request).messages
    if rep is Representation.CSV:
        if wants_one_page(request):
            return csv_list(SMS_MESSAGES, await messages.list(account, flt, page_req), None)
        first = await messages.list(account, flt, PageRequest(CSV_CHUNK))
        return csv_list(SMS_MESSAGES, first, lambda pr: messages.list(account, flt, pr))
    page = await messages.list(account, flt, page_req)
    total = await messages.count(account, flt)
    asked = [(k, v) for k in ("Page", "PageSize") if (v := q.value(k)) is not None]
    paging = legacy_paging(
        request.url.path, filters, asked, page_req.page, page_req.page_size, total, len(page.items)
    )
    return envelope(rep, SMS_MESSAGES, paging, page.items)


async def fetch_sms(request: Request) -> Response:
    rep = representation(request)
    _, account = await authorize(request)
    message = await services(request).messages.get(account, request.path_params["sid"])
    return instance(rep, SMS_MESSAGES, message)


BASE = ACCOUNT + "/SMS/Messages"
routes = [
    Route(BASE + "{fmt:fmt}", list_sms, methods=["GET"]),
    Route(BASE + "{fmt:fmt}", send, methods=["POST"]),
    Route(BASE + "/{sid:sid}{fmt:fmt}", fetch_sms, methods=["GET"]),
]
