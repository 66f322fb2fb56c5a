"""Messaging v1: /v1/Services[/{Sid}] and /v1/Services/{Sid}/PhoneNumbers[/{Sid}].

Served on the same port as 2010-04-01, so ``client.messaging.base_url`` can point here. v1
paths have no representation suffix, and the account is the one the credentials belong to.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.api.auth import principal
from smsgate.api.context import services
from smsgate.api.params import Params, query, read_form
from smsgate.api.paths import SidConvertor as SidConvertor  # registers {sid}
from smsgate.api.serialize import json_response
from smsgate.api.serialize_v1 import V1, pool_number_json, service_json, v1_list_json
from smsgate.domain.accounts import Account
from smsgate.domain.paging import parse_page_request
from smsgate.services.messaging_services import ServiceChanges

# Service fields smsgate keeps and returns but does not act on.
_KEPT_FLAGS = ("MmsConverter", "FallbackToLongCode", "AreaCodeGeomatch", "SynchronousValidation")
_SCAN = ("inherit", "enable", "disable")


def _base(request: Request) -> str:
    """The absolute base URL the client used: v1 URLs are absolute and must stay on it."""
    return str(request.base_url).rstrip("/")


async def _account(request: Request) -> Account:
    return (await principal(request)).account


def _changes(form: Params) -> ServiceChanges:
    extra: dict[str, str | bool] = {
        name: flag for name in _KEPT_FLAGS if (flag := form.boolean(name)) is not None
    }
    if (scan := form.choice("ScanMessageContent", _SCAN)) is not None:
        extra["ScanMessageContent"] = scan
    if (usecase := form.value("Usecase")) is not None:
        extra["Usecase"] = usecase
    return ServiceChanges(
        friendly_name=form.value("FriendlyName"),
        inbound_request_url=form.raw("InboundRequestUrl"),
        inbound_method=form.value("InboundMethod"),
        fallback_url=form.raw("FallbackUrl"),
        fallback_method=form.value("FallbackMethod"),
        status_callback=form.raw("StatusCallback"),
        sticky_sender=form.boolean("StickySender"),
        smart_encoding=form.boolean("SmartEncoding"),
        validity_period=form.integer("ValidityPeriod"),
        use_inbound_webhook_on_number=form.boolean("UseInboundWebhookOnNumber"),
        extra=extra or None,
    )


async def list_services(request: Request) -> Response:
    account = await _account(request)
    q = query(request)
    page_req = parse_page_request(q.value("PageSize"), q.value("Page"), q.value("PageToken"), "MG")
    page = await services(request).messaging_services.list(account, page_req)
    base = _base(request)
    return json_response(
        v1_list_json(
            "services",
            page,
            page_req,
            base + request.url.path,
            lambda s: service_json(s, base),
            lambda s: s.sid,
        )
    )


async def create_service(request: Request) -> Response:
    account = await _account(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    service = await services(request).messaging_services.create(account, _changes(form))
    return json_response(service_json(service, _base(request)), 201)


async def fetch_service(request: Request) -> Response:
    account = await _account(request)
    service = await services(request).messaging_services.get(account, request.path_params["sid"])
    return json_response(service_json(service, _base(request)))


async def update_service(request: Request) -> Response:
    account = await _account(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    service = await services(request).messaging_services.update(
        account, request.path_params["sid"], _changes(form)
    )
    return json_response(service_json(service, _base(request)))


async def delete_service(request: Request) -> Response:
    account = await _account(request)
    await services(request).messaging_services.delete(account, request.path_params["sid"])
    return Response(status_code=204)


async def list_numbers(request: Request) -> Response:
    account = await _account(request)
    q = query(request)
    page_req = parse_page_request(q.value("PageSize"), q.value("Page"), q.value("PageToken"), "PN")
    page = await services(request).messaging_services.list_numbers(
        account, request.path_params["service_sid"], page_req
    )
    base = _base(request)
    return json_response(
        v1_list_json(
            "phone_numbers",
            page,
            page_req,
            base + request.url.path,
            lambda n: pool_number_json(n, base),
            lambda n: n.number_sid,
        )
    )


async def add_number(request: Request) -> Response:
    account = await _account(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    entry = await services(request).messaging_services.add_number(
        account, request.path_params["service_sid"], form.value("PhoneNumberSid")
    )
    return json_response(pool_number_json(entry, _base(request)), 201)


async def fetch_number(request: Request) -> Response:
    account = await _account(request)
    entry = await services(request).messaging_services.get_number(
        account, request.path_params["service_sid"], request.path_params["sid"]
    )
    return json_response(pool_number_json(entry, _base(request)))


async def remove_number(request: Request) -> Response:
    account = await _account(request)
    await services(request).messaging_services.remove_number(
        account, request.path_params["service_sid"], request.path_params["sid"]
    )
    return Response(status_code=204)


BASE = V1 + "/Services"
POOL = BASE + "/{service_sid:sid}/PhoneNumbers"
routes = [
    Route(BASE, list_services, methods=["GET"]),
    Route(BASE, create_service, methods=["POST"]),
    Route(BASE + "/{sid:sid}", fetch_service, methods=["GET"]),
    Route(BASE + "/{sid:sid}", update_service, methods=["POST"]),
    Route(BASE + "/{sid:sid}", delete_service, methods=["DELETE"]),
    Route(POOL, list_numbers, methods=["GET"]),
    Route(POOL, add_number, methods=["POST"]),
    Route(POOL + "/{sid:sid}", fetch_number, methods=["GET"]),
    Route(POOL + "/{sid:sid}", remove_number, methods=["DELETE"]),
]
