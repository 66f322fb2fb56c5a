"""The one place where errors become the wire format, in the dialect of the path.

* 2010-04-01 with ``.json`` (and every other path but v2): Twilio's JSON,
  ``{"code": 21211, "message": "…", "more_info": "https://www.twilio.com/docs/errors/21211",
  "status": 400}``.
* 2010-04-01 without a suffix, ``.xml`` or ``.csv``: Twilio's XML,
  ``<TwilioResponse><RestException><Code/><Message/><MoreInfo/><Status/></RestException>``
  (a CSV cannot carry an error, and XML is the 2010 API's default representation).
* ``/v2/``: the v2 search API's own style, ``{"Errors": [{"Code": "MissingParameter",
  "Parameter": "Date_From", "Message": "…"}]}`` (docs/compat.md).

Every error goes through here, including unknown routes (404), unsupported methods (405, with
``Allow``), oversized bodies (413) and unexpected failures (500).
"""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from smsgate.api.paths import ROOT, V2
from smsgate.api.render import xml_body
from smsgate.api.render.json_body import CONTENT_TYPE as JSON
from smsgate.errors import (
    InvalidParameters,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    SmsgateError,
)
from smsgate.store.base import StoreUnavailable

logger = logging.getLogger(__name__)

# The v2 search API's error codes for errors that are not about one parameter.
_V2_CODES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "RequestTooLarge",
    503: "ServiceUnavailable",
}


def render(error: SmsgateError, path: str, headers: dict[str, str] | None = None) -> Response:
    message = error.message
    if isinstance(error, NotFound) and message == NotFound.default_message:
        message = f"The requested resource {path} was not found"
    headers = dict(headers or {})
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    if isinstance(error, ServiceUnavailable):
        headers["Retry-After"] = str(error.retry_after)
    if path.startswith(V2 + "/"):
        return Response(_v2_body(error, message), error.status, headers, JSON)
    if path.startswith(ROOT + "/") and not path.endswith(".json"):
        xml = xml_body.rest_exception(error.code, message, error.more_info, error.status)
        return Response(xml, error.status, headers, xml_body.CONTENT_TYPE)
    body = {
        "code": error.code,
        "message": message,
        "more_info": error.more_info,
        "status": error.status,
    }
    return Response(orjson.dumps(body), error.status, headers, JSON)


def _v2_body(error: SmsgateError, message: str) -> bytes:
    if isinstance(error, InvalidParameters):
        errors = [
            {
                "Code": "MissingParameter" if p.missing else "InvalidParameter",
                "Parameter": p.parameter,
                "Message": p.message,
            }
            for p in error.problems
        ]
    else:
        default = "InvalidRequest" if error.status == 400 else "InternalError"
        errors = [{"Code": _V2_CODES.get(error.status, default), "Message": message}]
    return orjson.dumps({"Errors": errors})


async def on_smsgate_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SmsgateError)
    return render(exc, request.url.path)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: SmsgateError
    headers: dict[str, str] = {}
    if exc.status_code == 404:
        error = NotFound()
    elif exc.status_code == 405:
        error = MethodNotAllowed(f"Method {request.method} not allowed on {request.url.path}")
        headers = {"Allow": ", ".join(_allowed(request))}
    else:
        error = SmsgateError(exc.detail, code=20000 + exc.status_code, status=exc.status_code)
    return render(error, request.url.path, headers)


def _allowed(request: Request) -> list[str]:
    """Every method some route serves on this path (Starlette's own Allow names one route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE and isinstance(route, Route) and route.methods:
            methods |= route.methods
    return sorted(methods)


async def on_store_unavailable(request: Request, exc: Exception) -> Response:
    logger.warning("store unavailable: %s", exc)
    return render(ServiceUnavailable(), request.url.path)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return render(SmsgateError(), request.url.path)


HANDLERS = {
    SmsgateError: on_smsgate_error,
    HTTPException: on_http_exception,
    StoreUnavailable: on_store_unavailable,
    Exception: on_unexpected,
}
