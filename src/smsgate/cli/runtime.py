"""Wiring the delivery side from settings: the carrier, the worker, the webhook sender."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from smsgate.cli.carriers import build_connector, uses_simulator
from smsgate.clock import Clock
from smsgate.config import ConfigError, Settings
from smsgate.connectors import simulator
from smsgate.domain.optout import AutoReplies
from smsgate.domain.pricing import PriceTable, PriceTableError
from smsgate.media_fetcher import HttpMediaFetcher
from smsgate.services.binds import BindSlots
from smsgate.services.delivery import DeliveryService
from smsgate.services.inbound import InboundService
from smsgate.services.media import MediaService, timeout_within
from smsgate.services.messages import MessageService
from smsgate.store.base import Store
from smsgate.webhooks.child import ChildClient
from smsgate.webhooks.overrides import Overrides
from smsgate.webhooks.sender import USER_AGENT, WebhookSender
from smsgate.worker.dispatcher import Dispatcher

WEBHOOK_CONCURRENCY = 512  # webhook requests in flight at once, per process


def console_secret(settings: Settings) -> str:
    """The key that signs console sessions: the setting, else DATA_DIR/console.key (made
    once, readable by its owner only), so sessions outlive restarts and span processes."""
    if settings.console_secret:
        return settings.console_secret
    path = settings.data_dir / "console.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    staged = path.with_name(f".console.key.{os.getpid()}")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(staged, path)  # appears whole or not at all; the first process wins
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        staged.unlink()
    return key


def price_table(settings: Settings) -> PriceTable:
    try:
        return PriceTable.parse(settings.prices)
    except PriceTableError as exc:
        raise ConfigError(f"--prices: {exc}") from exc


@dataclass
class Pipeline:
    """The worker and webhook sender of one process, and how to stop them."""

    dispatcher: Dispatcher
    webhooks: WebhookSender
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self.tasks = [
            asyncio.create_task(self.dispatcher.run(self.stop), name="smsgate-worker"),
            asyncio.create_task(self.webhooks.run(self.stop), name="smsgate-webhooks"),
        ]

    def wake(self) -> None:
        self.dispatcher.wake()
        self.webhooks.wake()

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)


def build_fetcher(settings: Settings) -> HttpMediaFetcher:
    """The MediaUrl fetcher of one process (close it at exit)."""
    return HttpMediaFetcher(settings.data_dir / "media" / "staging", timeout=settings.media_timeout)


def build_media(
    settings: Settings, store: Store, clock: Clock, fetcher: HttpMediaFetcher
) -> MediaService:
    timeout = timeout_within(settings.lease_seconds, settings.media_timeout)
    return MediaService(store, clock, fetcher, timeout=timeout)


def build_pipeline(settings: Settings, store: Store, clock: Clock, media: MediaService) -> Pipeline:
    defaults = Overrides(
        retry_count=settings.webhook_retries,
        total_timeout_ms=int(settings.webhook_timeout * 1000),
        read_timeout_ms=int(settings.webhook_timeout * 1000),
    )
    lease = settings.lease_seconds
    # Replies the inbound side queues wake this pipeline (bound late: it is built below).
    inbound = build_inbound(settings, store, clock, lambda: pipeline.wake(), media)
    webhooks = WebhookSender(
        store,
        clock,
        defaults=defaults,
        lease_seconds=lease,
        responses=inbound,
        concurrency=WEBHOOK_CONCURRENCY,
        http=ChildClient(WEBHOOK_CONCURRENCY, USER_AGENT),
    )
    pipeline = Pipeline(
        Dispatcher(
            DeliveryService(
                store,
                clock,
                lease_seconds=lease,
                prices=price_table(settings),
                sender_mps=settings.sender_mps,
                media=media,
                handoff=webhooks,
            ),
            build_connector(settings, clock, BindSlots(store, clock, lease_seconds=lease)),
            submit_timeout=lease / 2,
            on_inbound=inbound.receive_sms,
            on_progress=webhooks.nudge,
        ),
        webhooks,
    )
    return pipeline


def build_messages(
    settings: Settings, store: Store, clock: Clock, wake: Callable[[], None] | None
) -> MessageService:
    """``wake``: tells the worker that work was enqueued (in this process or a child)."""
    return MessageService(
        store,
        clock,
        sender_mps=settings.sender_mps,
        preflight=simulator.preflight if uses_simulator(settings) else None,
        open_senders=(
            frozenset({simulator.ALWAYS_VALID_FROM}) if uses_simulator(settings) else frozenset()
        ),
        on_enqueued=wake,
        min_schedule_lead=settings.min_schedule_lead,
    )


def build_inbound(
    settings: Settings,
    store: Store,
    clock: Clock,
    on_enqueued: Callable[[], None] | None,
    media: MediaService,
) -> InboundService:
    return InboundService(
        store,
        clock,
        replies=AutoReplies(
            stop=settings.stop_reply, start=settings.start_reply, help=settings.help_reply
        ),
        sender_mps=settings.sender_mps,
        open_senders=(
            frozenset({simulator.ALWAYS_VALID_FROM}) if uses_simulator(settings) else frozenset()
        ),
        on_enqueued=on_enqueued,
        media=media,
        public_url=settings.media_base_url,
    )
