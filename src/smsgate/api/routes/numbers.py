"""/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers[/{Sid}]."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.api.auth import authorize
from smsgate.api.context import services
from smsgate.api.params import Params, query, read_form
from smsgate.api.paths import ACCOUNT
from smsgate.api.render import instance, page_of, representation
from smsgate.api.serialize import NUMBERS
from smsgate.domain.paging import parse_page_request
from smsgate.services.numbers import NumberChanges
from smsgate.store.base import NumberFilter

# Voice and regulatory fields smsgate does not act on but keeps, so SDK round-trips hold.
PASSTHROUGH = (
    "VoiceUrl",
    "VoiceMethod",
    "VoiceFallbackUrl",
    "VoiceFallbackMethod",
    "VoiceCallerIdLookup",
    "VoiceApplicationSid",
    "VoiceReceiveMode",
    "SmsApplicationSid",
    "EmergencyStatus",
    "EmergencyAddressSid",
    "TrunkSid",
    "IdentitySid",
    "AddressSid",
    "BundleSid",
)


def _changes(form: Params) -> NumberChanges:
    extra = {name: v for name in PASSTHROUGH if (v := form.raw(name)) is not None}
    return NumberChanges(
        friendly_name=form.value("FriendlyName"),
        sms_url=form.raw("SmsUrl"),
        sms_method=form.value("SmsMethod"),
        sms_fallback_url=form.raw("SmsFallbackUrl"),
        sms_fallback_method=form.value("SmsFallbackMethod"),
        status_callback=form.raw("StatusCallback"),
        status_callback_method=form.value("StatusCallbackMethod"),
        extra=extra or None,
    )


async def list_numbers(request: Request) -> Response:
    rep = representation(request)
    _, account = await authorize(request)
    q = query(request)
    page_req = parse_page_request(q.value("PageSize"), q.value("Page"), q.value("PageToken"), "PN")
    flt = NumberFilter(q.value("PhoneNumber"), q.value("FriendlyName"))
    filters = [(k, v) for k in ("PhoneNumber", "FriendlyName") if (v := q.value(k)) is not None]
    numbers = services(request).numbers
    return await page_of(
        request, rep, NUMBERS, page_req, lambda pr: numbers.list(account, flt, pr), filters
    )


async def create_number(request: Request) -> Response:
    rep = representation(request)
    _, account = await authorize(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    number = await services(request).numbers.create(
        account, form.value("PhoneNumber"), _changes(form)
    )
    return instance(rep, NUMBERS, number, 201)


async def fetch_number(request: Request) -> Response:
    rep = representation(request)
    _, account = await authorize(request)
    number = await services(request).numbers.get(account, request.path_params["sid"])
    return instance(rep, NUMBERS, number)


async def update_number(request: Request) -> Response:
    rep = representation(request)
    who, account = await authorize(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    svc = services(request)
    new_owner = None
    if (target := form.value("AccountSid")) is not None and target != account.sid:
        # Moving a number between accounts of one family needs rights on both.
        new_owner = await svc.accounts.resolve(who, target)
    number = await svc.numbers.update(
        account, request.path_params["sid"], _changes(form), new_owner
    )
    return instance(rep, NUMBERS, number)


async def delete_number(request: Request) -> Response:
    _, account = await authorize(request)
    await services(request).numbers.delete(account, request.path_params["sid"])
    return Response(status_code=204)


BASE = ACCOUNT + "/IncomingPhoneNumbers"
routes = [
    Route(BASE + "{fmt:fmt}", list_numbers, methods=["GET"]),
    Route(BASE + "{fmt:fmt}", create_number, methods=["POST"]),
    Route(BASE + "/{sid:sid}{fmt:fmt}", fetch_number, methods=["GET"]),
    Route(BASE + "/{sid:sid}{fmt:fmt}", update_number, methods=["POST"]),
    Route(BASE + "/{sid:sid}{fmt:fmt}", delete_number, methods=["DELETE"]),
]
