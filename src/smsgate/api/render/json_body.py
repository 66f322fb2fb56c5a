"""The JSON representation (``.json``): orjson, keys in the order the serializers give."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

CONTENT_TYPE = "application/json; charset=utf-8"


def response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=CONTENT_TYPE)
