"""GET /v2/Properties/{PropertySid}/Messages: the v2 message search API (seed 003).

A Property is a Messaging Service of the caller's account (``MG…``: the messages sent through
it or received on its numbers) or an account the caller may act on (``AC…``: all of its
messages). Anything else, including another account's service or account, is 404.

Parameters come from the query string or a JSON object body (the seed sends JSON with a GET);
the same parameter in both is an error. Every problem is reported at once, in this API's own
error style (rendered by api/errors.py; docs/compat.md).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.api.auth import principal
from smsgate.api.context import Services, services
from smsgate.api.params import read_body
from smsgate.api.paths import V2
from smsgate.api.paths import SidConvertor as SidConvertor  # registers {sid}
from smsgate.api.render.json_body import response
from smsgate.api.serialize_v2 import v2_message_json
from smsgate.domain.accounts import Account
from smsgate.domain.dialects import (
    DEFAULT_RESULTS,
    MAX_RESULTS,
    MessageSearch,
    V2Direction,
    V2Status,
    directions_for,
    statuses_for,
)
from smsgate.errors import (
    AuthenticationFailed,
    BadRequest,
    InvalidParameters,
    NotFound,
    ParameterProblem,
)
from smsgate.ids import is_sid
from smsgate.services.accounts import Principal

PARAMETERS = ("Date_From", "Date_To", "Status", "Direction", "Results_Count", "Results_Skip")
MAX_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z
_INTEGER = re.compile(r"\s*-?\d{1,19}\s*")


async def search_messages(request: Request) -> Response:
    svc = services(request)
    who = await principal(request, svc)
    account, service_sid = await _property(svc, who, request.path_params["sid"])
    raw = await _parameters(request, svc.settings.max_body_bytes)
    messages = await svc.messages.search(account, parse_search(raw, service_sid))
    return response({"Messages": [v2_message_json(m) for m in messages]})


async def _property(svc: Services, who: Principal, sid: str) -> tuple[Account, str | None]:
    if is_sid(sid, "AC"):
        try:
            return await svc.accounts.resolve(who, sid), None
        except AuthenticationFailed:
            raise NotFound() from None  # the caller is known: the property is not theirs
    service = await svc.messaging_services.get(who.account, sid)  # NotFound unless theirs
    return who.account, service.sid


async def _parameters(request: Request, limit: int) -> dict[str, Any]:
    """The query string's parameters and the JSON body's, merged (never the same twice)."""
    raw: dict[str, Any] = {}
    problems: list[ParameterProblem] = []
    for name, value in request.query_params.multi_items():
        if name in raw:
            problems.append(ParameterProblem(name, f"{name} is given more than once."))
        raw[name] = value
    body = await read_body(request, limit)
    if body.strip():
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BadRequest("The request body is not valid JSON.") from None
        if not isinstance(document, dict):
            raise BadRequest("The request body must be a JSON object of search parameters.")
        for name, value in document.items():
            if name in raw:
                problems.append(
                    ParameterProblem(
                        name, f"{name} is given both in the query string and in the body."
                    )
                )
            raw[name] = value
    if problems:
        raise InvalidParameters(problems)
    return raw


def parse_search(raw: dict[str, Any], service_sid: str | None) -> MessageSearch:
    """Validate the parameters into a MessageSearch, or raise every problem at once."""
    problems: list[ParameterProblem] = []
    for name in raw:
        if name not in PARAMETERS:
            problems.append(
                ParameterProblem(
                    name, f"Unknown parameter {name}; the parameters are {', '.join(PARAMETERS)}."
                )
            )
    date_from = _timestamp(raw, "Date_From", problems)
    date_to = _timestamp(raw, "Date_To", problems)
    if date_from is not None and date_to is not None and date_to <= date_from:
        problems.append(
            ParameterProblem("Date_To", "Date_To must be later than Date_From (it is exclusive).")
        )
    status = _choice(raw, "Status", V2Status, problems)
    direction = _choice(raw, "Direction", V2Direction, problems)
    count = _integer(raw, "Results_Count", problems, minimum=1)
    skip = _integer(raw, "Results_Skip", problems, minimum=0)
    if problems:
        raise InvalidParameters(problems)
    assert date_from is not None
    assert date_to is not None
    return MessageSearch(
        created_from_us=date_from * 1_000_000,
        created_to_us=date_to * 1_000_000,
        service_sid=service_sid,
        statuses=None if status is None else statuses_for(V2Status(status)),
        directions=None if direction is None else directions_for(V2Direction(direction)),
        limit=min(count if count is not None else DEFAULT_RESULTS, MAX_RESULTS),
        skip=skip or 0,
    )


def _present(raw: dict[str, Any], name: str) -> Any:
    value = raw.get(name)
    return None if value is None or value == "" else value


def _as_int(value: Any) -> int | None:
    """A JSON integer or a string of digits (query strings); never a bool or a float."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def _integer(
    raw: dict[str, Any], name: str, problems: list[ParameterProblem], *, minimum: int
) -> int | None:
    value = _present(raw, name)
    if value is None:
        return None
    number = _as_int(value)
    if number is None:
        problems.append(ParameterProblem(name, f"{name} must be an integer, got {_shown(value)}."))
    elif number < minimum:
        problems.append(ParameterProblem(name, f"{name} must be {minimum} or more, got {number}."))
    else:
        return number
    return None


def _timestamp(raw: dict[str, Any], name: str, problems: list[ParameterProblem]) -> int | None:
    value = _present(raw, name)
    if value is None:
        message = f"{name} is required (whole seconds since the epoch, UTC)."
        problems.append(ParameterProblem(name, message, missing=True))
        return None
    seconds = _as_int(value)
    if seconds is None or not 0 <= seconds <= MAX_EPOCH:
        message = (
            f"{name} must be whole seconds since the epoch (UTC) between 0 and {MAX_EPOCH}, "
            f"got {_shown(value)}."
        )
        problems.append(ParameterProblem(name, message))
        return None
    return seconds


def _choice(
    raw: dict[str, Any],
    name: str,
    allowed: type[V2Status] | type[V2Direction],
    problems: list[ParameterProblem],
) -> str | None:
    value = _present(raw, name)
    if value is None:
        return None
    if isinstance(value, str):
        for option in allowed:
            if option.value.lower() == value.strip().lower():
                return option.value
    options = ", ".join(o.value for o in allowed)
    problems.append(
        ParameterProblem(name, f"{name} must be one of {options}; got {_shown(value)}.")
    )
    return None


def _shown(value: Any) -> str:
    return orjson.dumps(value).decode() if not isinstance(value, str) else f"'{value}'"


routes = [
    Route(V2 + "/Properties/{sid:sid}/Messages", search_messages, methods=["GET"]),
]
