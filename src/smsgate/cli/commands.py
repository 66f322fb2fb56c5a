"""What each ``smsgate`` subcommand does, given settings read once by ``smsgate.cli.main``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
import uvicorn
import uvloop

from smsgate.api.app import create_app
from smsgate.api.serialize import account_json, message_json
from smsgate.cli.runtime import (
    build_fetcher,
    build_inbound,
    build_media,
    build_messages,
    build_pipeline,
    console_secret,
)
from smsgate.cli.worker_process import WorkerProcess, watch_control
from smsgate.clock import SystemClock
from smsgate.config import Settings
from smsgate.domain.accounts import Account
from smsgate.domain.messages import Message
from smsgate.domain.numbers import PhoneNumber
from smsgate.errors import SmsgateError
from smsgate.process import settle_gc
from smsgate.services.accounts import AccountService
from smsgate.services.bootstrap import ensure_main_account
from smsgate.services.numbers import NumberService
from smsgate.store import schema
from smsgate.store.base import Store
from smsgate.store.sqlite import SqliteStore

log = logging.getLogger("smsgate")
T = TypeVar("T")


class CommandError(Exception):
    """A command cannot run as asked (printed without a traceback, exit status 2)."""


def build_store(settings: Settings, *, sole_api: bool = True) -> Store:
    """Pick the store backend the settings name. ``sole_api``: this process serves the API,
    the only writer of accounts, keys and numbers, so the SQLite store may cache them; a
    worker process must read them fresh (a number's StatusCallback may change under it).
    PostgreSQL never caches them (other processes write them)."""
    if settings.postgres_url is not None:
        postgres = _postgres()
        store: Store = postgres.PostgresStore(
            settings.postgres_url,
            media_dir=settings.data_dir / "media",
            pool_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout,
            migrate=settings.migrate,
        )
        return store
    path = settings.sqlite_path
    if path is None:
        raise CommandError(
            f"unsupported database URL {settings.database_url!r}: "
            "use sqlite:///PATH (or the data dir) or postgresql://…"
        )
    return SqliteStore(path, media_dir=settings.data_dir / "media", cache_entities=sole_api)


def _postgres() -> Any:
    """smsgate.store.postgres, which needs the optional psycopg (``smsgate[postgres]``)."""
    try:
        from smsgate.store import postgres
    except ImportError as exc:
        raise CommandError(
            f"PostgreSQL needs psycopg: pip install 'smsgate[postgres]' ({exc})"
        ) from exc
    return postgres


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


# -- serve ------------------------------------------------------------------------------------


def serve(settings: Settings, args: argparse.Namespace) -> int:
    if settings.workers > 1:
        return _serve_many(settings)
    return _run(lambda: _serve(settings))


def _serve_many(settings: Settings) -> int:
    """``--workers N``: N API processes (each with its delivery pipeline) on one port.

    The parent binds the port, upgrades the schema and bootstraps the main account once,
    then runs N children that accept on the shared socket (the kernel spreads connections
    over them) and all use the one PostgreSQL database. SIGTERM/SIGINT stop every child; a
    child that dies is started again. SQLite is refused: its store caches accounts, keys
    and numbers on the promise that it is the only process serving the file.
    """
    if settings.postgres_url is None:
        raise CommandError(
            "--workers above 1 needs PostgreSQL (--database-url postgresql://…): the SQLite "
            "store is served by one process; run one API process on SQLite"
        )
    sock = socket.create_server((settings.host, settings.port), backlog=2048)
    sock.set_inheritable(True)
    _run(lambda: _prepare(settings))
    child_settings = dataclasses.replace(settings, bootstrap=False, migrate=False)
    ctx = multiprocessing.get_context("spawn")
    children: list[multiprocessing.process.BaseProcess] = []
    stopping = threading.Event()

    def start() -> multiprocessing.process.BaseProcess:
        child = ctx.Process(target=_serve_child, args=(child_settings, sock), daemon=False)
        child.start()
        return child

    def stop(*_: object) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        children = [start() for _ in range(settings.workers)]
        log.info("serving on %s:%d with %d processes", settings.host, settings.port, len(children))
        while not stopping.wait(0.5):
            for i, child in enumerate(children):
                if not child.is_alive():
                    log.warning("API process %s exited with %s; starting another", child.pid,
                                child.exitcode)  # fmt: skip
                    children[i] = start()
    finally:
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)
        for child in children:
            child.join(30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    codes = [child.exitcode for child in children]
    log.info("stopped cleanly" if all(c == 0 for c in codes) else f"stopped; exit codes {codes}")
    return 0 if all(c == 0 for c in codes) else 1


async def _prepare(settings: Settings) -> None:
    """Upgrade the schema and bootstrap the main account, once, before the API processes."""
    store = build_store(settings)
    await store.open()
    try:
        if settings.bootstrap:
            created = await ensure_main_account(
                AccountService(store, SystemClock()), NumberService(store, SystemClock())
            )
            if created is not None:
                _print_welcome(settings, *created)
    finally:
        await store.close()


def _serve_child(settings: Settings, sock: socket.socket) -> None:
    """One of ``--workers N`` API processes (a spawned interpreter)."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sys.exit(_run(lambda: _serve(settings, sock)))


async def _serve(settings: Settings, sock: socket.socket | None = None) -> int:
    store = build_store(settings)
    await store.open()
    clock = SystemClock()
    fetcher = build_fetcher(settings)
    try:
        if settings.bootstrap:
            created = await ensure_main_account(
                AccountService(store, clock), NumberService(store, clock)
            )
            if created is not None:
                _print_welcome(settings, *created)
        media = build_media(settings, store, clock, fetcher)
        in_process = settings.worker and not settings.worker_process
        pipeline = build_pipeline(settings, store, clock, media) if in_process else None
        child = WorkerProcess(settings) if settings.worker and settings.worker_process else None
        wake = pipeline.wake if pipeline is not None else child.wake if child is not None else None
        messages = build_messages(settings, store, clock, wake)
        inbound = build_inbound(settings, store, clock, wake, media)
        app = create_app(
            settings,
            store,
            clock,
            message_service=messages,
            inbound_service=inbound,
            media_service=media,
            console_secret=console_secret(settings),
            stopping=lambda: server.should_exit,  # bound below, read only while serving
        )
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
            lifespan="off",
            server_header=False,
        )
        server = uvicorn.Server(config)
        settle_gc()
        if pipeline is not None:
            pipeline.start()
        if child is not None:
            await child.start()
        try:
            with _quiet_exit_signals():
                await server.serve(sockets=None if sock is None else [sock])
        finally:
            if pipeline is not None:
                await pipeline.close()
            if child is not None:
                await child.close()
    finally:
        await fetcher.close()
        await store.close()
    log.info("stopped cleanly")
    return 0


@contextmanager
def _quiet_exit_signals() -> Iterator[None]:
    """Let uvicorn handle SIGTERM/SIGINT, then return here instead of dying on re-raise.

    uvicorn re-raises a captured signal through the handler that was installed before it
    started; a no-op handler there means ``serve`` returns and the store closes cleanly.
    """
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_welcome(settings: Settings, account: Account, number: PhoneNumber) -> None:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    base = f"http://{host}:{settings.port}"
    phone = number.phone_number
    print(
        f"""
smsgate created a main account on this empty store:

    Account SID : {account.sid}
    Auth token  : {account.auth_token}
    Test number : {phone}

Send a first message with the official Twilio SDK (pip install twilio):

    from twilio.rest import Client
    client = Client("{account.sid}", "{account.auth_token}")
    client.api.base_url = "{base}"
    message = client.messages.create(to="+15558675310", from_="{phone}", body="Hello from smsgate")
    print(message.sid, message.status)

or with curl:

    curl -u {account.sid}:{account.auth_token} \\
         {base}/2010-04-01/Accounts/{account.sid}/Messages.json \\
         --data-urlencode To=+15558675310 --data-urlencode From={phone} -d Body=hello
""",
        flush=True,
    )


# -- worker -----------------------------------------------------------------------------------


def worker(settings: Settings, args: argparse.Namespace) -> int:
    return _run(lambda: _worker(settings))


def worker_child(settings: Settings, *, control_fd: int) -> int:
    """The worker child of ``serve --worker-process`` (smsgate.cli.worker_process)."""
    return _run(lambda: _worker(settings, control_fd=control_fd))


async def _worker(settings: Settings, *, control_fd: int | None = None) -> int:
    """Deliver and call back without serving the API, until SIGTERM or SIGINT (or, as the
    child of ``serve``, until its control pipe closes). A signal that comes while it is
    still starting stops it as soon as it has started, cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    store = build_store(settings, sole_api=False)
    await store.open()
    fetcher = build_fetcher(settings)
    try:
        clock = SystemClock()
        pipeline = build_pipeline(
            settings, store, clock, build_media(settings, store, clock, fetcher)
        )
        pipeline.stop = stop
        if control_fd is not None:
            watch_control(control_fd, pipeline.wake, pipeline.stop.set)
        settle_gc()
        pipeline.start()
        log.info("worker %s running", pipeline.dispatcher.owner)
        await pipeline.stop.wait()
        await pipeline.close()
    finally:
        await fetcher.close()
        await store.close()
    log.info("stopped cleanly")
    return 0


# -- accounts ---------------------------------------------------------------------------------


def accounts_create(settings: Settings, args: argparse.Namespace) -> int:
    async def main() -> Account:
        store = build_store(settings)
        await store.open()
        try:
            return await AccountService(store, SystemClock()).create_main(args.friendly_name)
        finally:
            await store.close()

    account = _run(main)
    sys.stdout.buffer.write(orjson.dumps(account_json(account)) + b"\n")
    return 0


def accounts_list(settings: Settings, args: argparse.Namespace) -> int:
    async def main() -> list[Account]:
        store = build_store(settings)
        await store.open()
        try:
            return await store.all_accounts()
        finally:
            await store.close()

    for account in _run(main):
        sys.stdout.buffer.write(orjson.dumps(account_json(account)) + b"\n")
    return 0


# -- simulate ---------------------------------------------------------------------------------


def simulate_inbound(settings: Settings, args: argparse.Namespace) -> int:
    """Store an inbound message (and its webhook) as if a phone had sent it; print it as JSON.

    Safe while a server runs on the same store: that server's webhook sender and worker poll
    the store and deliver the webhook and any reply.
    """

    async def main() -> Message:
        store = build_store(settings)
        await store.open()
        fetcher = build_fetcher(settings)
        try:
            clock = SystemClock()
            media = build_media(settings, store, clock, fetcher)
            service = build_inbound(settings, store, clock, None, media)
            return await service.inject(
                args.from_, args.to, args.body or "", tuple(args.media_url or ())
            )
        except SmsgateError as exc:
            raise CommandError(f"{exc.message} (error {exc.code})") from None
        finally:
            await fetcher.close()
            await store.close()

    message = _run(main)
    sys.stdout.buffer.write(orjson.dumps(message_json(message)) + b"\n")
    return 0


# -- smsc-sim ---------------------------------------------------------------------------------


def smsc_sim(settings: Settings, args: argparse.Namespace) -> int:
    """A simulated SMSC on loopback; see docs/smsc-sim.md."""
    from smsgate.smsc.app import SimOptions, run
    from smsgate.smsc.behaviour import Behaviour, knobs, parse_flag

    behaviour = Behaviour()
    changes: dict[str, Any] = {}
    try:
        for knob in knobs():
            raw = getattr(args, "knob_" + knob.name)
            if raw is not None:
                changes[knob.name] = raw if isinstance(raw, bool) else parse_flag(knob.name, raw)
        behaviour.patch(changes)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    options = SimOptions(
        host=args.smsc_host,
        port=args.smsc_port,
        control_port=args.control_port,
        system_id=args.system_id,
        password=args.password,
        log_level=settings.log_level,
    )
    with _quiet_exit_signals():
        return _run(lambda: run(options, behaviour))


# -- db ---------------------------------------------------------------------------------------


def _url(settings: Settings) -> str:
    """The SQLAlchemy URL of the configured database, for the migrations."""
    if settings.postgres_url is not None:
        url: str = _postgres().sqlalchemy_url(settings.postgres_url)
        return url
    path = settings.sqlite_path
    if path is None:
        raise CommandError(f"unsupported database URL {settings.database_url!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    schema.upgrade(_url(settings))
    print(f"schema at revision {schema.head_revision()}")
    return 0


def db_check(settings: Settings, args: argparse.Namespace) -> int:
    current, head = schema.current_revision(_url(settings)), schema.head_revision()
    if current == head:
        print(f"schema is current (revision {head})")
        return 0
    print(f"schema is at revision {current or 'none'}; this smsgate needs {head}")
    return 1
