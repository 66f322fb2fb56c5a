"""The ASGI application: routes, error rendering, and the services it calls."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.api import errors
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
) -> Starlette:
    """Build the app around an already-open store (and the services the CLI wired)."""
    clock = clock or SystemClock()
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
        ],
        exception_handlers=dict[Any, Any](errors.HANDLERS),
    )
    app.state.services = Services(
        settings=settings,
        accounts=AccountService(store, clock),
        numbers=NumberService(store, clock),
        messages=message_service or MessageService(store, clock),
        inbound=inbound_service or InboundService(store, clock),
        messaging_services=MessagingServices(store, clock),
        media=media_service,
    )
    return app
