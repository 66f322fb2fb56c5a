"""The control API of the simulated SMSC: JSON over HTTP, documented in docs/smsc-sim.md.

The Node SMSC used by the tests (tests/node/smsc.mjs) serves the same routes with the same
JSON, so one test suite drives either.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import text
from .core import Smsc


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status, media_type="application/json")


def _error(message: str) -> Response:
    return _json({"error": message}, 400)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


def create_app(smsc: Smsc, smpp_port: int) -> Starlette:
    async def healthz(request: Request) -> Response:
        return _json({"ok": True, "implementation": "sim", "smpp_port": smpp_port})

    async def sessions(request: Request) -> Response:
        return _json([s.json() for s in smsc.sessions.values()])

    async def submits(request: Request) -> Response:
        return _json([s.json() for s in smsc.submits])

    async def deliveries(request: Request) -> Response:
        return _json([d.json() for d in smsc.deliveries])

    async def behaviour(request: Request) -> Response:
        if request.method == "POST":
            try:
                smsc.behaviour.patch(await _body(request))
            except ValueError as exc:  # orjson.JSONDecodeError is one too
                return _error(str(exc))
        return _json(smsc.behaviour.json())

    async def mo(request: Request) -> Response:
        try:
            body = await _body(request)
            source, destination = body["from"], body["to"]
            message = body.get("body", "")
            encoding = body.get("encoding", "gsm")
            split = body.get("split", "udh8")
            max_part_len = body.get("max_part_len")
            if not all(isinstance(v, str) for v in (source, destination, message)):
                raise ValueError("from, to and body must be strings")
            if encoding not in text.ENCODINGS:
                raise ValueError(f"encoding must be one of {', '.join(text.ENCODINGS)}")
            if split not in text.SPLITS:
                raise ValueError(f"split must be one of {', '.join(text.SPLITS)}")
            if max_part_len is not None and not isinstance(max_part_len, int):
                raise ValueError("max_part_len must be an integer")
            sent = smsc.inject_mo(source, destination, message, encoding, split, max_part_len)
        except KeyError as exc:
            return _error(f"missing {exc.args[0]!r}")
        except ValueError as exc:  # text.TextError is one too
            return _error(str(exc))
        return _json({"parts": len(sent), "deliveries": [d.id for d in sent]})

    async def drop(request: Request) -> Response:
        return _json({"dropped": smsc.drop()})

    async def unbind(request: Request) -> Response:
        return _json({"unbound": smsc.unbind()})

    async def reset(request: Request) -> Response:
        smsc.reset()
        return _json({"ok": True})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/sessions", sessions),
            Route("/submits", submits),
            Route("/deliveries", deliveries),
            Route("/behaviour", behaviour, methods=["GET", "POST"]),
            Route("/mo", mo, methods=["POST"]),
            Route("/drop", drop, methods=["POST"]),
            Route("/unbind", unbind, methods=["POST"]),
            Route("/reset", reset, methods=["POST"]),
        ]
    )
