"""The one place where errors become Twilio's wire format.

``{"code": 21211, "message": "…", "more_info": "https://www.twilio.com/docs/errors/21211",
"status": 400}`` for every error, including unknown routes (404), unsupported methods (405),
oversized bodies (413) and unexpected failures (500).
"""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from smsgate.errors import (
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    SmsgateError,
)
from smsgate.store.base import StoreUnavailable

logger = logging.getLogger(__name__)
JSON = "application/json; charset=utf-8"


def render(error: SmsgateError, path: str) -> Response:
    message = error.message
    if isinstance(error, NotFound) and message == NotFound.default_message:
        message = f"The requested resource {path} was not found"
    body = {
        "code": error.code,
        "message": message,
        "more_info": error.more_info,
        "status": error.status,
    }
    headers: dict[str, str] = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    if isinstance(error, ServiceUnavailable):
        headers["Retry-After"] = str(error.retry_after)
    return Response(orjson.dumps(body), status_code=error.status, headers=headers, media_type=JSON)


async def on_smsgate_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SmsgateError)
    return render(exc, request.url.path)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: SmsgateError
    if exc.status_code == 404:
        error = NotFound()
    elif exc.status_code == 405:
        error = MethodNotAllowed(f"Method {request.method} not allowed on {request.url.path}")
    else:
        error = SmsgateError(exc.detail, code=20000 + exc.status_code, status=exc.status_code)
    return render(error, request.url.path)


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
