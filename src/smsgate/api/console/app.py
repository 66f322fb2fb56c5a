"""The console's routes: sign-in, the message log and its live feed, message detail,
conversations, and the pages that manage numbers, Messaging Services, keys and accounts.

Every page resolves ``{account_sid}`` for the signed-in principal exactly as the API does
(AccountService.resolve: a main account reaches its subaccounts). Every POST checks the
session's CSRF token and answers with a redirect (post/redirect/get); a service's error is
shown on the page it redirects to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from smsgate.api.console import pages, session
from smsgate.api.context import Services, services
from smsgate.api.params import Params, read_form
from smsgate.api.serialize import message_json
from smsgate.domain.accounts import Account
from smsgate.domain.dates import DateRange, from_us, to_us
from smsgate.domain.messages import FINAL, CreateRequest, Direction, Message, Status
from smsgate.domain.paging import Cursor, PageRequest
from smsgate.errors import AuthenticationFailed, NotFound, SmsgateError
from smsgate.ids import is_sid
from smsgate.services.accounts import Principal
from smsgate.services.console import ConsoleService, thread_of
from smsgate.store.base import AccountFilter, MessageFilter

HERE = Path(__file__).parent
PAGE_SIZE = 50
POLL_SECONDS = 0.5
PING_SECONDS = 15.0
RECHECK_POLLS = 60  # the session is checked again every 30 s of an open stream

templates = Jinja2Templates(directory=str(HERE / "templates"))


def _utc(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


templates.env.filters["utc"] = _utc
templates.env.filters["us_utc"] = lambda us: _utc(from_us(us))
templates.env.filters["ord"] = ord


# -- plumbing -------------------------------------------------------------------------------


def console(request: Request) -> ConsoleService:
    found: ConsoleService = request.app.state.console
    return found


async def signed_in(request: Request) -> tuple[Principal, Account]:
    """The principal, and the account named in the path (its own or a subaccount)."""
    who = await session.current(request)
    try:
        account = await services(request).accounts.resolve(who, request.path_params["account_sid"])
    except AuthenticationFailed:  # signed in, but not to this account: nothing to see here
        raise NotFound() from None
    return who, account


async def render(
    request: Request,
    name: str,
    who: Principal | None,
    account: Account | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page with the layout's context: the switcher's accounts, the CSRF token, a flash."""
    family: list[Account] = []
    if who is not None and not name.startswith("_"):  # fragments have no account menu
        family = [who.account]
        if not who.via_key and not who.account.is_subaccount:
            svc = services(request)
            subs = await svc.accounts.list(who, AccountFilter(), PageRequest(page_size=200))
            family += [a for a in subs.items if a.sid != who.account.sid]
    return templates.TemplateResponse(
        request,
        name,
        {
            "who": who,
            "account": account,
            "family": family,
            "csrf": session.csrf_token(request),
            "flash": request.session.pop("flash", None),
            "base": f"/console/{account.sid}" if account else "/console",
            **context,
        },
        status_code=status_code,
    )


def back(request: Request, to: str, *, error: str | None = None, ok: str | None = None) -> Response:
    if error is not None:
        request.session["flash"] = {"kind": "error", "text": error}
    elif ok is not None:
        request.session["flash"] = {"kind": "ok", "text": ok}
    return RedirectResponse(to, status_code=303)


Action = Callable[[Request, Services, Principal, Account, Params], Awaitable[tuple[str, str]]]


def action(handler: Action) -> Callable[[Request], Awaitable[Response]]:
    """A POST: CSRF check, then ``handler`` → (where to go, what to say). A service error
    goes back to the page the form was on, with the error's message."""

    async def endpoint(request: Request) -> Response:
        who, account = await signed_in(request)
        svc = services(request)
        form = await read_form(request, svc.settings.max_body_bytes)
        session.check_csrf(request, form)
        try:
            to, said = await handler(request, svc, who, account, form)
        except (AuthenticationFailed, session.CsrfFailed):
            raise
        except SmsgateError as exc:
            fallback = form.value("back") or f"/console/{account.sid}/messages"
            return back(request, _local(fallback), error=f"{exc.message} ({exc.code})")
        return back(request, to, ok=said)

    return endpoint


def _local(path: str) -> str:
    """Only paths inside the console are followed (no open redirects)."""
    return path if path.startswith("/console/") and "//" not in path else "/console/"


# -- sign-in --------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    try:
        who = await session.current(request)
    except AuthenticationFailed:
        return RedirectResponse("/console/login", status_code=303)
    wanted = request.query_params.get("account", "")  # the account switcher, without script
    sid = wanted if is_sid(wanted, "AC") else who.account.sid
    return RedirectResponse(f"/console/{sid}/messages", status_code=303)


async def login_page(request: Request) -> Response:
    return await render(request, "login.html", None, None)


async def login(request: Request) -> Response:
    form = await read_form(request, services(request).settings.max_body_bytes)
    session.check_csrf(request, form)
    try:
        who = await session.sign_in(request, form.raw("username") or "", form.raw("password") or "")
    except AuthenticationFailed:
        page = await render(
            request,
            "login.html",
            None,
            None,
            status_code=401,
            error="Those credentials were not accepted.",
        )
        return page
    return RedirectResponse(f"/console/{who.account.sid}/messages", status_code=303)


async def logout(request: Request) -> Response:
    form = await read_form(request, services(request).settings.max_body_bytes)
    session.check_csrf(request, form)
    session.sign_out(request)
    return RedirectResponse("/console/login", status_code=303)


# -- the message log ------------------------------------------------------------------------


def log_filter(request: Request) -> tuple[MessageFilter, dict[str, str]]:
    q = request.query_params
    given = {
        k: q[k].strip()
        for k in ("direction", "status", "number", "from", "to", "q")
        if q.get(k, "").strip()
    }
    direction = given.get("direction")
    status = given.get("status")
    if direction is not None and direction not in Direction.__members__.values():
        direction = None
    if status is not None and status not in Status.__members__.values():
        status = None
    dates = DateRange(_day(given.get("from")), _day(given.get("to"), next_day=True))
    flt = MessageFilter(
        date_sent=dates,
        direction=direction,
        status=status,
        number=given.get("number"),
        body_contains=given.get("q"),
    )
    return flt, given


def _day(text: str | None, *, next_day: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if next_day else day


async def message_log(request: Request) -> Response:
    who, account = await signed_in(request)
    flt, given = log_filter(request)
    after = request.query_params.get("after", "")
    cursor = Cursor("after", after) if is_sid(after, "SM", "MM") else None
    svc = services(request)
    try:
        page = await svc.messages.list(account, flt, PageRequest(PAGE_SIZE, 0, cursor))
    except SmsgateError:
        page = await svc.messages.list(account, flt, PageRequest(PAGE_SIZE))
        cursor = None
    rows = page.items[:PAGE_SIZE]
    older = None
    if page.has_next and rows:
        older = "?" + urlencode({**given, "after": rows[-1].sid})
    context: dict[str, Any] = {
        "messages": rows,
        "given": given,
        "older": older,
        "newest": "?" + urlencode(given) if cursor is not None else None,
        "live": cursor is None,
        "statuses": [s.value for s in Status],
        "directions": [d.value for d in Direction],
    }
    name = "_log_rows.html" if request.query_params.get("fragment") else "messages.html"
    return await render(request, name, who, account, **context)


async def events(request: Request) -> Response:
    """Server-Sent Events: the account's messages as they are created or change.

    The feed polls the store (an index seek on ``messages_account_updated``), so it sees
    what any process wrote: with several API and worker processes the one serving this
    page is often not the one that delivered the message.
    """
    _, account = await signed_in(request)
    last = request.headers.get("last-event-id") or request.query_params.get("since", "")
    start = from_us(int(last)) if last.isdigit() else None
    feed = console(request).feed(account, start)

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        quiet = 0.0
        polls = 0
        stopping: Callable[[], bool] = request.app.state.stopping
        while not stopping():  # the server waits for open responses before it exits
            polls += 1
            if polls % RECHECK_POLLS == 0:
                try:  # a deleted key or a closed account ends the stream too
                    await session.current(request)
                except AuthenticationFailed:
                    return
            changed = await feed.poll()
            if changed:
                quiet = 0.0
                for m in changed:
                    data = orjson.dumps(_event(m)).decode()
                    yield f"id: {feed.position}\nevent: message\ndata: {data}\n\n".encode()
            else:
                quiet += POLL_SECONDS
                if quiet >= PING_SECONDS:
                    quiet = 0.0
                    yield b": ping\n\n"
            await asyncio.sleep(POLL_SECONDS)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def _event(m: Message) -> dict[str, Any]:
    pair = thread_of(m)
    return {
        "sid": m.sid,
        "status": m.status.value,
        "direction": m.direction.value,
        "from": m.from_,
        "to": m.to,
        "thread": list(pair) if pair else None,
        "date_updated_us": to_us(m.date_updated),
        "date_created": _utc(m.date_created),
    }


# -- one message ----------------------------------------------------------------------------


async def message_detail(request: Request) -> Response:
    who, account = await signed_in(request)
    svc, con = services(request), console(request)
    message = await svc.messages.get(account, request.path_params["sid"])
    attempts = await con.attempts(message)
    media = []
    if message.num_media:
        media = (
            await svc.media.list(account, message.sid, DateRange(), PageRequest(page_size=10))
        ).items[:10]
    fields = message_json(message)
    fields.pop("subresource_uris", None)
    fields["encoding"] = message.encoding
    fields["status_callback"] = message.status_callback
    fields["validity_period"] = message.validity_period
    fields["send_at"] = _utc(message.send_at) or None
    context: dict[str, Any] = {
        "m": message,
        "fields": fields,
        "options": message.options,
        "timeline": con.timeline(message, attempts, await con.status_history(message)),
        "attempts": attempts,
        "parts": await con.carrier_parts(message),
        "why": con.segment_why(message.body),
        "media": media,
        "thread": thread_of(message),
        "final": message.status in FINAL,
        "inbound": message.direction is Direction.INBOUND,
    }
    name = "_message_body.html" if request.query_params.get("fragment") else "message.html"
    return await render(request, name, who, account, **context)


async def media_content(request: Request) -> Response:
    _, account = await signed_in(request)
    p = request.path_params
    path, content_type = await services(request).media.content(account, p["msid"], p["sid"])
    return FileResponse(path, media_type=content_type, headers={"Cache-Control": "private"})


async def _redact(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    sid = request.path_params["sid"]
    await svc.messages.update(account, sid, "", None)
    return f"/console/{account.sid}/messages/{sid}", "The body was redacted."


async def _delete(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    sid = request.path_params["sid"]
    await svc.messages.delete(account, sid)
    return f"/console/{account.sid}/messages", f"Message {sid} was deleted."


# -- conversations --------------------------------------------------------------------------


async def conversations(request: Request) -> Response:
    who, account = await signed_in(request)
    threads = await console(request).conversations(account)
    return await render(request, "conversations.html", who, account, threads=threads)


async def thread(request: Request) -> Response:
    who, account = await signed_in(request)
    ours = request.query_params.get("ours", "").strip()
    theirs = request.query_params.get("theirs", "").strip()
    if not ours or not theirs:
        raise NotFound()
    items = await console(request).thread(account, ours, theirs)
    context: dict[str, Any] = {
        "ours": ours,
        "theirs": theirs,
        "items": items,
        "here": f"/console/{account.sid}/thread?" + urlencode({"ours": ours, "theirs": theirs}),
    }
    name = "_thread_items.html" if request.query_params.get("fragment") else "thread.html"
    return await render(request, name, who, account, **context)


def _thread_url(account: Account, ours: str, theirs: str) -> str:
    return f"/console/{account.sid}/thread?" + urlencode({"ours": ours, "theirs": theirs})


async def _reply(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    ours, theirs = form.value("ours") or "", form.value("theirs") or ""
    req = CreateRequest(to=theirs, from_=ours, body=form.raw("body") or None)
    message = await svc.messages.create(account, req)
    return _thread_url(account, ours, theirs), f"Sent {message.sid}."


async def _phone(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    ours, theirs = form.value("ours") or "", form.value("theirs") or ""
    message = await svc.inbound.simulate(who.account, theirs, ours, form.raw("body") or "")
    return _thread_url(account, ours, theirs), f"{theirs} sent {message.sid}."


async def _start_thread(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    ours, theirs = form.value("ours") or "", form.value("theirs") or ""
    if not ours or not theirs:
        raise NotFound("Give both numbers.")
    return _thread_url(account, ours, theirs), ""


# -- errors ---------------------------------------------------------------------------------


async def on_auth(request: Request, exc: Exception) -> Response:
    if request.url.path.endswith("/events"):
        return Response(status_code=401)
    return RedirectResponse("/console/login", status_code=303)


async def on_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SmsgateError)
    return await render(
        request,
        "error.html",
        None,
        None,
        status_code=exc.http_status,
        message=exc.message,
        code=exc.code,
    )


async def on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return await render(
        request,
        "error.html",
        None,
        None,
        status_code=exc.status_code,
        message=exc.detail,
        code=None,
    )


def build_console(
    svc: Services,
    console_service: ConsoleService,
    secret: str,
    stopping: Callable[[], bool],
) -> Starlette:
    """The console as an ASGI app, mounted at ``/console`` by smsgate.api.app."""
    acct = "/{account_sid}"
    routes = [
        Route("/", home, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        Route(f"{acct}/messages", message_log, methods=["GET"]),
        Route(f"{acct}/events", events, methods=["GET"]),
        Route(f"{acct}/messages/{{sid}}", message_detail, methods=["GET"]),
        Route(f"{acct}/messages/{{sid}}/redact", action(_redact), methods=["POST"]),
        Route(f"{acct}/messages/{{sid}}/delete", action(_delete), methods=["POST"]),
        Route(f"{acct}/media/{{msid}}/{{sid}}", media_content, methods=["GET"]),
        Route(f"{acct}/conversations", conversations, methods=["GET"]),
        Route(f"{acct}/conversations", action(_start_thread), methods=["POST"]),
        Route(f"{acct}/thread", thread, methods=["GET"]),
        Route(f"{acct}/thread/reply", action(_reply), methods=["POST"]),
        Route(f"{acct}/thread/phone", action(_phone), methods=["POST"]),
        *pages.routes(acct, action, render, signed_in),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie=session.COOKIE,
                max_age=session.MAX_AGE,
                path="/console",
                same_site="strict",
                https_only=False,
            )
        ],
        exception_handlers={
            AuthenticationFailed: on_auth,
            SmsgateError: on_error,
            HTTPException: on_http,
        },
    )
    app.state.services = svc
    app.state.console = console_service
    app.state.stopping = stopping
    return app
