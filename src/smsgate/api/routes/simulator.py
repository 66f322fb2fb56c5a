"""/simulator/inbound: inject a message "from a phone" to one of the caller's numbers.

Not part of Twilio's API: it lets users test inbound webhooks and TwiML replies without a
phone. HTTP Basic with the same credentials as the API (the account that owns ``To``, or
its parent); answers 201 with the inbound Message as Twilio's JSON.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.api.auth import principal
from smsgate.api.context import services
from smsgate.api.params import read_form
from smsgate.api.serialize import json_response, message_json


async def inject_inbound(request: Request) -> Response:
    who = await principal(request)
    svc = services(request)
    form = await read_form(request, svc.settings.max_body_bytes)
    message = await svc.inbound.simulate(
        who.account,
        form.value("From"),
        form.value("To"),
        form.raw("Body") or "",
        tuple(form.all("MediaUrl")),
    )
    return json_response(message_json(message), 201)


routes = [Route("/simulator/inbound", inject_inbound, methods=["POST"])]
