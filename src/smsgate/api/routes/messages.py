"""/2010-04-01/Accounts/{AccountSid}/Messages[/{Sid}]: Twilio's Message resource."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.api.auth import authorize
from smsgate.api.context import services
from smsgate.api.params import Params, query, read_form
from smsgate.api.paths import ACCOUNT
from smsgate.api.render import instance, page_of, representation
from smsgate.api.serialize import MESSAGES
from smsgate.domain.dates import date_range
from smsgate.domain.messages import CreateRequest
from smsgate.domain.paging import parse_page_request
from smsgate.errors import BadRequest, ValidationError
from smsgate.store.base import MessageFilter

# Create parameters smsgate stores as given; their behaviour arrives with later features.
_KEPT = (
    "ApplicationSid",
    "ProvideFeedback",
    "Attempt",
    "ForceDelivery",
    "ShortenUrls",
    "SendAsMms",
    "ContentSid",
    "ContentVariables",
    "FallbackFrom",
    "MaxPrice",
    "SmartEncoded",
)
_ENUMS = {
    "ContentRetention": ("retain", "discard"),
    "AddressRetention": ("retain", "obfuscate"),
    "RiskCheck": ("enable", "disable"),
    "TrafficType": ("free",),
}
_BOOLEANS = ("ProvideFeedback", "ForceDelivery", "ShortenUrls", "SendAsMms", "SmartEncoded")
_DATE_FILTERS = ("DateSent", "DateSent<", "DateSent>")


def list_filter(q: Params) -> tuple[MessageFilter, list[tuple[str, str]]]:
    """The ``To``, ``From`` and ``DateSent`` filters, and the same as URI parameters."""
    flt = MessageFilter(
        to=q.value("To"),
        from_=q.value("From"),
        date_sent=date_range(*(q.value(name) for name in _DATE_FILTERS)),
    )
    filters = [(k, v) for k in ("To", "From", *_DATE_FILTERS) if (v := q.value(k)) is not None]
    return flt, filters


def create_request(form: Params) -> CreateRequest:
    """Type-check every create parameter Twilio defines; unknown parameters are ignored."""
    # Most creates carry To, From and Body only: look at the optional ones that were sent
    # (in the same order, so the same error wins).
    for name in _BOOLEANS:
        if name in form:
            form.boolean(name)
    if "Attempt" in form:
        form.integer("Attempt")
    options: dict[str, str | list[str]] = {
        name: v for name in _KEPT if name in form and (v := form.value(name)) is not None
    }
    for name, allowed in _ENUMS.items():
        if name in form and (choice := form.choice(name, allowed)) is not None:
            options[name] = choice
    if "PersistentAction" in form and (actions := form.all("PersistentAction")):
        options["PersistentAction"] = actions
    schedule_type = form.choice("ScheduleType", ("fixed",))
    try:
        send_at = form.timestamp("SendAt")
    except BadRequest:
        if schedule_type is None:
            raise
        raise ValidationError(
            f"SendAt '{form.value('SendAt')}' is not valid.", code=35111
        ) from None
    return CreateRequest(
        to=form.value("To"),
        from_=form.value("From"),
        messaging_service_sid=form.value("MessagingServiceSid"),
        body=form.value("Body"),
        media_urls=tuple(form.all("MediaUrl")),
        status_callback=form.value("StatusCallback"),
        validity_period=form.integer("ValidityPeriod"),
        smart_encoded=form.boolean("SmartEncoded") or False,
        schedule_type=schedule_type,
        send_at=send_at,
        options=options,
    )


async def create_message(request: Request) -> Response:
    rep = representation(request)
    svc = services(request)
    _, account = await authorize(request, svc)
    form = await read_form(request, svc.settings.max_body_bytes)
    message = await svc.messages.create(account, create_request(form))
    return instance(rep, MESSAGES, message, 201)


async def list_messages(request: Request) -> Response:
    rep = representation(request)
    _, account = await authorize(request)
    q = query(request)
    page_req = parse_page_request(
        q.value("PageSize"), q.value("Page"), q.value("PageToken"), "SM", "MM"
    )
    flt, filters = list_filter(q)
    messages = services(request).messages
    return await page_of(
        request, rep, MESSAGES, page_req, lambda pr: messages.list(account, flt, pr), filters
    )


async def fetch_message(request: Request) -> Response:
    rep = representation(request)
    _, account = await authorize(request)
    message = await services(request).messages.get(account, request.path_params["sid"])
    return instance(rep, MESSAGES, message)


async def update_message(request: Request) -> Response:
    rep = representation(request)
    _, account = await authorize(request)
    form = await read_form(request, services(request).settings.max_body_bytes)
    message = await services(request).messages.update(
        account, request.path_params["sid"], form.raw("Body"), form.value("Status")
    )
    return instance(rep, MESSAGES, message)


async def delete_message(request: Request) -> Response:
    _, account = await authorize(request)
    await services(request).messages.delete(account, request.path_params["sid"])
    return Response(status_code=204)


BASE = ACCOUNT + "/Messages"
routes = [
    Route(BASE + "{fmt:fmt}", list_messages, methods=["GET"]),
    Route(BASE + "{fmt:fmt}", create_message, methods=["POST"]),
    Route(BASE + "/{sid:sid}{fmt:fmt}", fetch_message, methods=["GET"]),
    Route(BASE + "/{sid:sid}{fmt:fmt}", update_message, methods=["POST"]),
    Route(BASE + "/{sid:sid}{fmt:fmt}", delete_message, methods=["DELETE"]),
]
