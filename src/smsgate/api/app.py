"""The ASGI application: routes, error rendering, and the services it calls."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from smsgate.api import errors
from smsgate.api.console import build_console
from smsgate.api.context import Services
from smsgate.api.routes import (
    accounts,
    legacy,
    media,
    messages,
    numbers,
    search,
    services,
    simulator,
)
from smsgate.clock import Clock, SystemClock
from smsgate.config import Settings
from smsgate.services.accounts import AccountService
from smsgate.services.console import ConsoleService
from smsgate.services.inbound import InboundService
from smsgate.services.media import MediaService
from smsgate.services.messages import MessageService
from smsgate.services.messaging_services import MessagingServices
from smsgate.services.numbers import NumberService
from smsgate.store.base import Store


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def create_app(
    settings: Settings,
    store: Store,
    clock: Clock | None = None,
    *,
    message_service: MessageService | None = None,
    inbound_service: InboundService | None = None,
    media_service: MediaService,
    console_secret: str | None = None,
    stopping: Callable[[], bool] | None = None,
) -> Starlette:
    """Build the app around an already-open store (and the services the CLI wired).

    ``console_secret`` signs the web console's session cookies; every process serving one
    store needs the same (a random one lasts as long as this process). ``stopping`` says when
    the server is shutting down, so that the console's event streams end and let it."""
    clock = clock or SystemClock()
    svc = Services(
        settings=settings,
        accounts=AccountService(store, clock),
        numbers=NumberService(store, clock),
        messages=message_service or MessageService(store, clock),
        inbound=inbound_service or InboundService(store, clock),
        messaging_services=MessagingServices(store, clock),
        media=media_service,
    )
    console = build_console(
        svc,
        ConsoleService(store, clock),
        console_secret or secrets.token_hex(32),
        stopping or (lambda: False),
    )
    app = Starlette(
        routes=[
            # Messages first: they are the hot path and routes are matched in order.
            *messages.routes,
            Route("/healthz", healthz, methods=["GET"]),
            *media.routes,
            *accounts.routes,
            *numbers.routes,
            *simulator.routes,
            *services.routes,
            *legacy.routes,
            *search.routes,
            # Last: the API's paths are matched first, and only /console/… reaches it.
            Mount("/console", app=console),
        ],
        exception_handlers=dict[Any, Any](errors.HANDLERS),
    )
    app.state.services = svc
    return app
