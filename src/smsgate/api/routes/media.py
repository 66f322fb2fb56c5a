"""A message's Media (``/Messages/{MessageSid}/Media``) and MessageFeedback (``/Feedback``).

``/Media/{Sid}`` with ``.json``, ``.xml`` or ``.csv`` is the Media resource; without a suffix
it is the media's content, with its content type, as Twilio serves it (to the account's
credentials; smsgate has no public media URLs).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from smsgate.api.auth import authorize
from smsgate.api.context import services
from smsgate.api.params import query, read_form
from smsgate.api.paths import ACCOUNT
from smsgate.api.render import instance, page_of, representation
from smsgate.api.serialize import FEEDBACK, MEDIA
from smsgate.domain.dates import date_range
from smsgate.domain.paging import parse_page_request

_DATE_FILTERS = ("DateCreated", "DateCreated<", "DateCreated>")


async def list_media(request: Request) -> Response:
    rep = representation(request)
    _, account = await authorize(request)
    q = query(request)
    page_req = parse_page_request(q.value("PageSize"), q.value("Page"), q.value("PageToken"), "ME")
    created = date_range(*(q.value(name) for name in _DATE_FILTERS))
    filters = [(k, v) for k in _DATE_FILTERS if (v := q.value(k)) is not None]
    media = services(request).media
    message_sid = request.path_params["message_sid"]
    return await page_of(
        request,
        rep,
        MEDIA,
        page_req,
        lambda pr: media.list(account, message_sid, created, pr),
        filters,
    )


async def fetch_media(request: Request) -> Response:
    _, account = await authorize(request)
    media = services(request).media
    message_sid, sid = request.path_params["message_sid"], request.path_params["sid"]
    if request.path_params["fmt"] == "":
        path, content_type = await media.content(account, message_sid, sid)
        return FileResponse(path, media_type=content_type)
    found = await media.get(account, message_sid, sid)
    return instance(representation(request), MEDIA, found)


async def delete_media(request: Request) -> Response:
    _, account = await authorize(request)
    params = request.path_params
    await services(request).media.delete(account, params["message_sid"], params["sid"])
    return Response(status_code=204)


async def create_feedback(request: Request) -> Response:
    rep = representation(request)
    svc = services(request)
    _, account = await authorize(request, svc)
    form = await read_form(request, svc.settings.max_body_bytes)
    feedback = await svc.media.feedback(
        account, request.path_params["message_sid"], form.value("Outcome")
    )
    return instance(rep, FEEDBACK, feedback, 200)


MESSAGE = ACCOUNT + "/Messages/{message_sid:sid}"
routes = [
    Route(MESSAGE + "/Media{fmt:fmt}", list_media, methods=["GET"]),
    Route(MESSAGE + "/Media/{sid:sid}{fmt:fmt}", fetch_media, methods=["GET"]),
    Route(MESSAGE + "/Media/{sid:sid}{fmt:fmt}", delete_media, methods=["DELETE"]),
    Route(MESSAGE + "/Feedback{fmt:fmt}", create_feedback, methods=["POST"]),
]
