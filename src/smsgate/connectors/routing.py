"""Several carriers behind one Connector: routes by destination prefix, with failover.

A route names carriers in order of preference. A message goes to the first carrier of
the longest matching route that is ready (bound); when none is, it waits in the queue.
Carrier ids are already prefixed with the carrier's name, so receipts from any of them
find their message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from smsgate.connectors.base import (
    Connector,
    InboundHandler,
    OutboundSms,
    PartRecorder,
    PermanentError,
    ReceiptHandler,
    SubmitResult,
    TemporaryError,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Route:
    """Destinations starting with ``prefix`` ('' matches all) go to ``carriers``, in order."""

    prefix: str
    carriers: tuple[str, ...]


class RoutingConnector:
    name = "router"

    def __init__(self, carriers: dict[str, Connector], routes: Sequence[Route]) -> None:
        for route in routes:
            unknown = [name for name in route.carriers if name not in carriers]
            if unknown:
                raise ValueError(f"route {route.prefix!r} names unknown carriers: {unknown}")
        self._carriers = carriers
        self._routes = sorted(routes, key=lambda route: len(route.prefix), reverse=True)

    def ready(self) -> bool:
        return any(carrier.ready() for carrier in self._carriers.values())

    def route(self, to: str) -> Route | None:
        for route in self._routes:
            if to.startswith(route.prefix):
                return route
        return None

    async def start(self, on_receipt: ReceiptHandler, on_inbound: InboundHandler) -> None:
        for carrier in self._carriers.values():
            await carrier.start(on_receipt, on_inbound)

    async def close(self) -> None:
        await asyncio.gather(*(carrier.close() for carrier in self._carriers.values()))

    async def submit(
        self, sms: OutboundSms, record_part: PartRecorder | None = None
    ) -> SubmitResult:
        route = self.route(sms.to)
        if route is None:
            raise PermanentError(21408, f"No carrier route for {sms.to}")
        for name in route.carriers:
            carrier = self._carriers[name]
            if not carrier.ready():
                continue
            try:
                return await carrier.submit(sms, record_part)
            except TemporaryError as exc:
                if exc.counts:
                    raise
                logger.info("carrier %s could not take %s (%s); failing over", name, sms.to, exc)
        raise TemporaryError(30008, f"no carrier of route {route.prefix!r} is ready", counts=False)
