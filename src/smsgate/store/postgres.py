"""The Store on PostgreSQL, for many API and worker processes on one database.

Design (see docs/architecture.md, "The PostgreSQL store"):

* **The same transactions as SQLite.** Each write runs the SQLite adapter's transaction
  function (smsgate.store.sqlite_delivery, sqlite_services, …) on a psycopg connection seen
  through smsgate.store.pg_sql, so both stores share one implementation of every rule. Only
  claims and the batched status update are written for PostgreSQL
  (smsgate.store.postgres_delivery).
* **SERIALIZABLE writes, retried.** SQLite runs one write at a time; PostgreSQL runs them
  side by side, and at SERIALIZABLE it guarantees the outcome of some one-at-a-time order,
  or aborts a transaction with a serialization failure, which is retried here. That is what
  keeps per-sender rate slots, sticky senders, pool limits and conditional changes exact
  across processes without a lock per rule. Claims run at READ COMMITTED with ``FOR UPDATE
  SKIP LOCKED`` leases instead, so workers never wait on or abort each other.
* **Group commit, one writer lane.** Creates, status changes and finished callbacks are
  grouped as on SQLite: the operations queued while a transaction runs go together into the
  next one (one commit, one fsync for the batch), and these batches take turns across every
  process through an advisory lock (see _write_in_lane). Only when a batch fails are its
  operations run again one by one, so one bad operation never fails its neighbours.
* **psycopg 3, synchronous, on threads.** The shared transaction functions are synchronous;
  they run on a small thread pool, each with a connection from a psycopg_pool
  ConnectionPool, which checks a connection before handing it out (so a database restart
  costs no request a dead connection) and reconnects by itself.
* **Outages.** Any failure to reach the database (no connection within ``pool_timeout``, a
  connection lost mid-transaction) raises StoreUnavailable: the API answers 503 with
  Retry-After; the worker and webhook sender log it and try again at their next poll.
* **No caches.** Other processes write accounts, keys and numbers, so every read goes to the
  database (point reads by primary key or unique index).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import select
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson
import psycopg
import psycopg.errors
import sqlalchemy.exc
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from smsgate.domain.accounts import Account, ApiKey
from smsgate.domain.dates import DateRange, to_us
from smsgate.domain.delivery import (
    Callback,
    CallbackAttempt,
    CallbackResult,
    CarrierPart,
    CarrierRef,
    ClaimedCallback,
    DeliveryJob,
    MoPart,
    ParkedReceipt,
    StatusChange,
    SubmitProgress,
    Transition,
)
from smsgate.domain.dialects import MessageSearch
from smsgate.domain.inbound import InboundRecord, QueuedReply
from smsgate.domain.media import Feedback, Media, StagedFile
from smsgate.domain.messages import Message, Status
from smsgate.domain.numbers import PhoneNumber
from smsgate.domain.paging import Page, PageRequest
from smsgate.domain.pools import Assignment, MessagingService, PoolNumber
from smsgate.store import history, rows, sqlite_batch, sqlite_binds
from smsgate.store import postgres_delivery as pgdelivery
from smsgate.store import rows_services as srows
from smsgate.store import sqlite_delivery as delivery
from smsgate.store import sqlite_inbound as inbound
from smsgate.store import sqlite_media as media
from smsgate.store import sqlite_services as services
from smsgate.store.base import (
    AccountFilter,
    DuplicateKey,
    MessageFilter,
    NumberFilter,
    Outcome,
    PoolAdd,
    StoreError,
    StoreUnavailable,
    UnknownCursor,
)
from smsgate.store.blobs import BlobDir
from smsgate.store.pg_sql import PgConn
from smsgate.store.schema import current_revision, head_revision, upgrade

logger = logging.getLogger(__name__)
T = TypeVar("T")
Op = Callable[[PgConn], T]
RunMany = Callable[[PgConn, list[Any]], list[Any]]

SERIALIZABLE = IsolationLevel.SERIALIZABLE
READ_COMMITTED = IsolationLevel.READ_COMMITTED
MAX_BATCH = 256
# A serialization failure is retried at once, then after random pauses that grow up to
# MAX_PAUSE; a write that still conflicts after CONFLICT_BUDGET seconds gives up
# (StoreUnavailable).
MAX_PAUSE = 0.1
CONFLICT_BUDGET = 30.0
# What PostgreSQL raises where it made one of two overlapping transactions give way.
_CONFLICTS = (
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.TransactionRollback,
)
# Writers of media content hold this advisory lock shared, media collection exclusively,
# so that a file is never removed between a writer's check that it exists and its commit.
MEDIA_LOCK = 0x736D_6D65  # "smme"
# Held (per session) around every grouped write transaction, by every process.
LANE_LOCK = 0x736D_6C61  # "smla"


def sqlalchemy_url(url: str) -> str:
    """The URL Alembic (SQLAlchemy) needs for ``url``: the psycopg 3 dialect."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    raise StoreError(f"not a PostgreSQL URL: {url!r}")


def conninfo_of(url: str) -> str:
    """``url`` as libpq takes it (it knows no ``+psycopg`` dialect suffix)."""
    return "postgresql://" + sqlalchemy_url(url).removeprefix("postgresql+psycopg://")


def _check_idle(conn: psycopg.Connection[Any]) -> None:
    """Whether a pooled connection can be handed out, without a round trip to the server.

    psycopg_pool's own check sends an empty query on every checkout: one round trip more per
    store operation, on a server that shares the machine's cores. An idle connection has
    nothing to read, so a socket that is readable (the server's goodbye on a restart, or EOF
    after it went away) or in error means the connection is gone: the pool drops it and
    hands out another, or makes one. A connection that dies without a word is found by the
    operation that uses it, which fails with StoreUnavailable (a 503) and the pool drops it.
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    pgconn = conn.pgconn
    problem = None
    if pgconn.transaction_status != TransactionStatus.IDLE:
        problem = "the connection is not idle"
    else:
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
        if poller.poll(0):
            problem = "the server closed the connection"
    if problem is not None:
        conn.close()  # the pool takes back an open connection as good: close it first
        raise psycopg.OperationalError(problem)


class PostgresStore:
    """The Store on a PostgreSQL database; media content in ``media_dir``.

    Every process serving the same database must see the same ``media_dir`` (a shared
    volume when they run on several hosts).
    """

    def __init__(
        self,
        url: str,
        *,
        media_dir: Path,
        pool_size: int = 8,
        pool_timeout: float = 5.0,
        migrate: bool = True,
    ) -> None:
        self.url = url
        self.blobs = BlobDir(media_dir)
        self._conninfo = conninfo_of(url)
        self._pool_size = pool_size
        self._pool_timeout = pool_timeout
        self._migrate = migrate
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._groups: dict[RunMany, _Group] = {}
        # Grouped writes take turns (see _write_in_lane).
        self._lane: asyncio.Lock | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        await asyncio.to_thread(self._check_schema)
        self._threads = ThreadPoolExecutor(self._pool_size, thread_name_prefix="smsgate-pg")
        self._pool = ConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=self._pool_size,
            kwargs={"autocommit": True},
            check=_check_idle,
            timeout=self._pool_timeout,
            # Give up on a replacement connection soon: the next request that needs one asks
            # again at once, so service resumes as soon as the database is back.
            reconnect_timeout=2.0,
            open=False,
            name="smsgate",
        )
        await asyncio.to_thread(self._pool.open, wait=False)
        blobs = self.blobs
        await asyncio.to_thread(blobs.ensure)
        staged = await asyncio.to_thread(blobs.sweep_staging)
        swept = await self._write(lambda c: _sweep_media(c, blobs))
        if staged or swept:
            logger.info("media sweep: %d staged and %d stored files removed", staged, swept)

    def _check_schema(self) -> None:
        """Upgrade the schema (``migrate``), or refuse to run on one that is not current."""
        url = sqlalchemy_url(self.url)
        try:
            if self._migrate:
                upgrade(url)
                return
            current, head = current_revision(url), head_revision()
        except sqlalchemy.exc.OperationalError as exc:
            raise StoreUnavailable(f"cannot reach the database: {exc.orig}") from exc
        if current != head:
            raise StoreError(
                f"the schema is at revision {current or 'none'}; this smsgate needs {head} "
                "(run `smsgate db upgrade`)"
            )

    async def close(self) -> None:
        for group in self._groups.values():
            await group.close()
        self._groups.clear()
        if self._pool is not None:
            await asyncio.to_thread(self._pool.close)
            self._pool = None
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None

    # -- plumbing --------------------------------------------------------------------------

    def _run(self, op: Op[T], level: IsolationLevel | None, lane: bool = False) -> T:
        """Run ``op`` in one transaction at ``level`` (None: autocommit reads), on a thread;
        ``lane``: holding the grouped writers' advisory lock (see _write_in_lane)."""
        pool = self._pool
        if pool is None:
            raise StoreError("store is not open")
        tries, started = 0, time.monotonic()
        while True:
            try:
                with pool.connection() as conn:
                    if level is None:
                        return op(PgConn(conn))
                    conn.isolation_level = level
                    if not lane:
                        with conn.transaction():
                            return op(PgConn(conn))
                    # Taken before the transaction starts, so its snapshot follows the
                    # previous holder's commit; a lost session releases the lock by itself.
                    conn.execute("SELECT pg_advisory_lock(%s)", (LANE_LOCK,))
                    try:
                        with conn.transaction():
                            return op(PgConn(conn))
                    finally:
                        with contextlib.suppress(psycopg.Error):
                            conn.execute("SELECT pg_advisory_unlock(%s)", (LANE_LOCK,))
            except _CONFLICTS:
                tries += 1
                if time.monotonic() - started > CONFLICT_BUDGET:
                    raise StoreUnavailable("a write kept conflicting with others") from None
                if tries > 1:
                    time.sleep(random.uniform(0, min(MAX_PAUSE, 0.002 * 2**tries)))
            except psycopg.errors.UniqueViolation as exc:
                raise DuplicateKey(str(exc)) from exc
            except (PoolTimeout, psycopg.OperationalError) as exc:
                raise StoreUnavailable(str(exc).splitlines()[0] if str(exc) else "") from exc

    async def _call(self, op: Op[T], level: IsolationLevel | None, lane: bool = False) -> T:
        if self._threads is None:
            raise StoreError("store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._run, op, level, lane)

    async def _write(self, op: Op[T]) -> T:
        return await self._call(op, SERIALIZABLE)

    async def _write_in_lane(self, op: Op[T]) -> T:
        """A grouped write: one at a time in this process (the asyncio lock) and across
        every process on the database (an advisory lock held around the transaction), as
        SQLite's single writer. Creates and status changes of all processes move the same
        sender queues; run side by side, their batches would keep aborting each other."""
        assert self._lane is not None
        async with self._lane:
            return await self._call(op, SERIALIZABLE, lane=True)

    async def _read(self, op: Op[T]) -> T:
        return await self._call(op, None)

    async def _claim(self, op: Op[T]) -> T:
        return await self._call(op, READ_COMMITTED)

    async def _write_grouped(self, run_many: RunMany, item: Any) -> Any:
        """Queue ``item`` for ``run_many``, which runs once for every item queued meanwhile."""
        return await self._queue_grouped(run_many, item)

    def _queue_grouped(self, run_many: RunMany, item: Any) -> asyncio.Future[Any]:
        """``_write_grouped``, queued before this returns (items run in the order queued)."""
        if self._lane is None:
            self._lane = asyncio.Lock()
        group = self._groups.get(run_many)
        if group is None:
            group = self._groups[run_many] = _Group(self, run_many)
        return group.queue(item)

    async def _read_grouped(self, run_many: RunMany, item: Any) -> Any:
        """Queue ``item`` for the read ``run_many``, which runs once (one round trip per
        statement, outside the lane) for every item queued meanwhile: the worker's lookups
        of one message each, which would otherwise take a thread hop and a round trip each."""
        group = self._groups.get(run_many)
        if group is None:
            group = self._groups[run_many] = _Group(self, run_many, read=True)
        return await group.submit(item)

    async def _one(self, sql: str, params: Any) -> Any:
        return await self._read(lambda c: c.execute(sql, params).fetchone())

    async def _all(self, sql: str, params: Any) -> list[Any]:
        return await self._read(lambda c: c.execute(sql, params).fetchall())

    async def _exec(self, sql: str, params: dict[str, Any]) -> int:
        return await self._write(lambda c: c.execute(sql, params).rowcount)

    async def _page(
        self,
        select: str,
        where: list[str],
        params: dict[str, Any],
        keys: tuple[str, ...],
        *,
        descending: bool,
        page: PageRequest,
        boundary: tuple[Any, ...] | None,
        convert: Callable[[rows.Row], T],
        key_range: rows.KeyRange | None = None,
    ) -> Page[T]:
        sql, args, reverse = rows.page_query(
            select,
            where,
            params,
            keys,
            descending=descending,
            page=page,
            boundary=boundary,
            key_range=key_range,
        )
        fetched = await self._all(sql, args)
        return rows.to_page([convert(r) for r in fetched], page, reverse)

    # -- accounts --------------------------------------------------------------------------

    async def create_account(self, account: Account) -> None:
        await self._exec(rows.INSERT_ACCOUNT, rows.account_params(account))

    async def get_account(self, sid: str) -> Account | None:
        r = await self._one(f"SELECT {rows.ACCOUNT_COLS} FROM accounts WHERE sid = ?", (sid,))
        return None if r is None else rows.account_from(r)

    async def save_account(self, account: Account) -> None:
        await self._exec(rows.UPDATE_ACCOUNT, rows.account_params(account))

    async def count_accounts(self) -> int:
        return int((await self._one("SELECT count(*) FROM accounts", ()))[0])

    async def all_accounts(self) -> list[Account]:
        found = await self._all(f"SELECT {rows.ACCOUNT_COLS} FROM accounts ORDER BY sid", ())
        return [rows.account_from(r) for r in found]

    async def list_accounts(
        self, owner_sid: str, flt: AccountFilter, page: PageRequest
    ) -> Page[Account]:
        where = ["(sid = :owner OR owner_account_sid = :owner)"]
        params: dict[str, Any] = {"owner": owner_sid}
        if flt.friendly_name is not None:
            where.append("friendly_name = :fn")
            params["fn"] = flt.friendly_name
        if flt.status is not None:
            where.append("status = :status")
            params["status"] = flt.status.value
        return await self._page(
            f"SELECT {rows.ACCOUNT_COLS} FROM accounts",
            where,
            params,
            ("sid",),
            descending=False,
            page=page,
            boundary=_sid_boundary(page),
            convert=rows.account_from,
        )

    # -- API keys --------------------------------------------------------------------------

    async def create_key(self, key: ApiKey) -> None:
        await self._exec(rows.INSERT_KEY, rows.key_params(key))

    async def get_key(self, sid: str) -> ApiKey | None:
        r = await self._one(f"SELECT {rows.KEY_COLS} FROM api_keys WHERE sid = ?", (sid,))
        return None if r is None else rows.key_from(r)

    async def save_key(self, key: ApiKey) -> None:
        await self._exec(rows.UPDATE_KEY, rows.key_params(key))

    async def delete_key(self, account_sid: str, sid: str) -> bool:
        n = await self._exec(
            "DELETE FROM api_keys WHERE sid = :sid AND account_sid = :a",
            {"sid": sid, "a": account_sid},
        )
        return n > 0

    async def list_keys(self, account_sid: str, page: PageRequest) -> Page[ApiKey]:
        return await self._page(
            f"SELECT {rows.KEY_COLS} FROM api_keys",
            ["account_sid = :a"],
            {"a": account_sid},
            ("sid",),
            descending=False,
            page=page,
            boundary=_sid_boundary(page),
            convert=rows.key_from,
        )

    # -- phone numbers ---------------------------------------------------------------------

    async def create_number(self, number: PhoneNumber) -> None:
        await self._exec(rows.INSERT_NUMBER, rows.number_params(number))

    async def get_number(self, account_sid: str, sid: str) -> PhoneNumber | None:
        r = await self._one(
            f"SELECT {rows.NUMBER_COLS} FROM phone_numbers WHERE sid = ? AND account_sid = ?",
            (sid, account_sid),
        )
        return None if r is None else rows.number_from(r)

    async def find_number(self, phone_number: str) -> PhoneNumber | None:
        r = await self._one(
            f"SELECT {rows.NUMBER_COLS} FROM phone_numbers WHERE phone_number = ?",
            (phone_number,),
        )
        return None if r is None else rows.number_from(r)

    async def save_number(self, number: PhoneNumber) -> None:
        await self._exec(rows.UPDATE_NUMBER, rows.number_params(number))

    async def delete_number(self, account_sid: str, sid: str) -> bool:
        n = await self._exec(
            "DELETE FROM phone_numbers WHERE sid = :sid AND account_sid = :a",
            {"sid": sid, "a": account_sid},
        )
        return n > 0

    async def list_numbers(
        self, account_sid: str, flt: NumberFilter, page: PageRequest
    ) -> Page[PhoneNumber]:
        where = ["account_sid = :a"]
        params: dict[str, Any] = {"a": account_sid}
        if flt.phone_number:
            # ILIKE: SQLite's LIKE ignores the case of ASCII letters.
            where.append("phone_number ILIKE :pn ESCAPE '\\'")
            params["pn"] = "%" + _escape_like(flt.phone_number) + "%"
        if flt.friendly_name is not None:
            where.append("friendly_name = :fn")
            params["fn"] = flt.friendly_name
        return await self._page(
            f"SELECT {rows.NUMBER_COLS} FROM phone_numbers",
            where,
            params,
            ("sid",),
            descending=False,
            page=page,
            boundary=_sid_boundary(page),
            convert=rows.number_from,
        )

    # -- messages --------------------------------------------------------------------------

    async def insert_message(self, message: Message) -> None:
        await self._write_grouped(_insert_messages, message)

    async def get_message(self, account_sid: str, sid: str) -> Message | None:
        r = await self._one(
            f"SELECT {rows.MESSAGE_COLS} FROM messages WHERE sid = ? AND account_sid = ?",
            (sid, account_sid),
        )
        return None if r is None else rows.message_from(r)

    async def save_message(self, message: Message) -> None:
        await self._write(lambda c: history.save_message(c.as_sqlite(), message))

    async def list_messages(
        self, account_sid: str, flt: MessageFilter, page: PageRequest
    ) -> Page[Message]:
        where, params, key_range = rows.message_filter(account_sid, flt)
        boundary = None
        if page.cursor is not None:
            r = await self._one(rows.MESSAGE_BOUNDARY, {"sid": page.cursor.sid, "a": account_sid})
            if r is None:
                raise UnknownCursor(page.cursor.sid)
            boundary = (r[0], page.cursor.sid)
        if flt.number is not None and not page.offset:
            sql, args, reverse = rows.number_page_query(account_sid, flt, page, boundary)
            found = await self._all(sql, args)
            return rows.to_page([rows.message_from(r) for r in found], page, reverse)
        return await self._page(
            f"SELECT {rows.MESSAGE_COLS} FROM messages",
            where,
            params,
            ("list_key", "sid"),
            descending=True,
            page=page,
            boundary=boundary,
            convert=rows.message_from,
            key_range=key_range,
        )

    async def messages_updated_since(
        self, account_sid: str, after_us: int, after_sid: str, limit: int
    ) -> list[Message]:
        params = {"a": account_sid, "t": after_us, "s": after_sid, "limit": limit}
        return [rows.message_from(r) for r in await self._all(rows.UPDATED_SINCE, params)]

    async def count_messages(self, account_sid: str, flt: MessageFilter) -> int:
        sql, params = rows.count_query(account_sid, flt)
        return int((await self._one(sql, params))[0])

    async def search_messages(self, account_sid: str, search: MessageSearch) -> list[Message]:
        sql, params = rows.search_query(account_sid, search)
        return [rows.message_from(r) for r in await self._all(sql, params)]

    async def redact_message(
        self, account_sid: str, sid: str, allowed: frozenset[Status], now_us: int
    ) -> tuple[Outcome, Message | None]:
        return await self._write(
            lambda c: _conditional_update(
                c, account_sid, sid, allowed, "body = '', date_updated = :now", {"now": now_us}
            )
        )

    async def cancel_message(
        self, account_sid: str, sid: str, now_us: int, *, callback: Callback | None = None
    ) -> tuple[Outcome, Message | None]:
        return await self._write(
            lambda c: services.cancel_scheduled(c.as_sqlite(), account_sid, sid, now_us, callback)
        )

    async def delete_message(
        self, account_sid: str, sid: str, allowed: frozenset[Status], now_us: int
    ) -> tuple[Outcome, Status | None]:
        def op(c: PgConn) -> tuple[Outcome, Status | None]:
            r = c.execute(
                "SELECT status, list_key FROM messages WHERE sid = ? AND account_sid = ?",
                (sid, account_sid),
            ).fetchone()
            if r is None:
                return Outcome.NOT_FOUND, None
            status = Status(r[0])
            if status not in allowed:
                return Outcome.REFUSED, status
            c.execute(rows.INSERT_TOMBSTONE, (sid, account_sid, r[1], now_us))
            media.delete_message_media(c.as_sqlite(), sid)
            history.delete(c.as_sqlite(), sid)
            c.execute("DELETE FROM messages WHERE sid = ?", (sid,))
            return Outcome.DONE, status

        return await self._write(op)

    # -- delivery pipeline (smsgate.store.sqlite_delivery, postgres_delivery) --------------

    async def insert_outbound(self, message: Message, mps: float) -> bool:
        return bool(await self._write_grouped(_insert_outbound_many, (message, mps)))

    async def claim_jobs(
        self, owner: str, now_us: int, lease_us: int, limit: int
    ) -> list[DeliveryJob]:
        return await self._claim(lambda c: pgdelivery.claim_jobs(c, owner, now_us, lease_us, limit))

    async def claim_expired_jobs(
        self, owner: str, now_us: int, lease_us: int, limit: int
    ) -> list[DeliveryJob]:
        return await self._claim(
            lambda c: pgdelivery.claim_expired_jobs(c, owner, now_us, lease_us, limit)
        )

    async def drop_job(self, message_sid: str) -> None:
        await self._write(lambda c: delivery.drop_job(c.as_sqlite(), message_sid))

    async def apply_transition(self, change: Transition) -> Message | None:
        return (await self.apply_transition_leased(change))[0]

    async def apply_transition_leased(
        self, change: Transition
    ) -> tuple[Message | None, int | None]:
        return await _applied(self._queue_grouped(pgdelivery.apply_transitions, change))

    def queue_transition(self, change: Transition) -> asyncio.Future[tuple[bool, int | None]]:
        return asyncio.ensure_future(
            _applied_only(self._queue_grouped(pgdelivery.apply_transitions, change))
        )

    async def find_carrier_ref(self, carrier_ids: tuple[str, ...]) -> CarrierRef | None:
        found: CarrierRef | None = await self._read_grouped(_find_carrier_refs, carrier_ids)
        return found

    async def carrier_parts(self, message_sid: str) -> list[CarrierPart]:
        return [CarrierPart(*r) for r in await self._all(rows.CARRIER_PARTS, {"m": message_sid})]

    async def park_receipt(self, receipt: ParkedReceipt) -> CarrierRef | None:
        # SERIALIZABLE: the submit that records one of these ids and this park cannot both
        # miss each other (one of the two is aborted and runs again, and then sees the other;
        # the submit reads the parked receipts for that: postgres_delivery._conflict_with_parking).
        return await self._write(lambda c: delivery.park_receipt(c.as_sqlite(), receipt))

    async def parked_receipts(
        self, carrier_ids: tuple[str, ...]
    ) -> list[tuple[str, ParkedReceipt]]:
        found: list[tuple[str, ParkedReceipt]] = await self._read_grouped(
            _parked_receipts, carrier_ids
        )
        return found

    async def drop_parked_receipts(self, carrier_ids: tuple[str, ...]) -> None:
        await self._write(lambda c: delivery.drop_parked_receipts(c.as_sqlite(), carrier_ids))

    async def orphaned_receipts(
        self, parked_before_us: int, limit: int
    ) -> list[tuple[CarrierRef, ParkedReceipt]]:
        return await self._read(
            lambda c: delivery.orphaned_receipts(c.as_sqlite(), parked_before_us, limit)
        )

    async def forget_parked_receipts(self, parked_before_us: int, limit: int) -> int:
        return await self._write(
            lambda c: delivery.forget_parked_receipts(c.as_sqlite(), parked_before_us, limit)
        )

    async def mark_part(self, carrier_id: str, state: str) -> list[str]:
        return await self._write(lambda c: delivery.mark_part(c.as_sqlite(), carrier_id, state))

    async def claim_receipt_waits(self, now_us: int, lease_us: int, limit: int) -> list[str]:
        return await self._claim(
            lambda c: pgdelivery.claim_receipt_waits(c, now_us, lease_us, limit)
        )

    async def drop_receipt_wait(self, message_sid: str) -> None:
        await self._exec("DELETE FROM receipt_waits WHERE message_sid = :sid", {"sid": message_sid})

    async def get_submit_progress(self, message_sid: str) -> SubmitProgress | None:
        r = await self._one(
            "SELECT ref, part_ids FROM submit_progress WHERE message_sid = ?", (message_sid,)
        )
        return None if r is None else SubmitProgress(int(r[0]), tuple(orjson.loads(r[1])))

    async def save_submit_progress(self, message_sid: str, progress: SubmitProgress) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO submit_progress (message_sid, ref, part_ids) "
                "VALUES (?, ?, ?)",
                (message_sid, progress.ref, orjson.dumps(list(progress.part_ids)).decode()),
            )
        )

    async def add_mo_part(self, part: MoPart) -> list[str] | None:
        return await self._write(lambda c: delivery.add_mo_part(c.as_sqlite(), part))

    async def drop_mo_parts(self, part: MoPart) -> None:
        await self._write(lambda c: delivery.drop_mo_parts(c.as_sqlite(), part))

    async def hold_bind_slot(
        self, carrier: str, holder: str, limit: int, now_us: int, lease_us: int
    ) -> bool:
        return await self._write(
            lambda c: sqlite_binds.hold_bind_slot(
                c.as_sqlite(), carrier, holder, limit, now_us, lease_us
            )
        )

    async def release_bind_slot(self, carrier: str, holder: str) -> None:
        await self._write(lambda c: sqlite_binds.release_bind_slot(c.as_sqlite(), carrier, holder))

    async def get_message_by_sid(self, sid: str) -> Message | None:
        r = await self._one(f"SELECT {rows.MESSAGE_COLS} FROM messages WHERE sid = ?", (sid,))
        return None if r is None else rows.message_from(r)

    async def get_messages_by_sid(self, sids: list[str]) -> dict[str, Message]:
        return await self._read(lambda c: delivery.messages_by_sid(c.as_sqlite(), sids))

    # -- Messaging Services (smsgate.store.sqlite_services) ---------------------------------

    async def create_service(self, service: MessagingService) -> None:
        await self._exec(srows.INSERT_SERVICE, srows.service_params(service))

    async def get_service(self, account_sid: str, sid: str) -> MessagingService | None:
        r = await self._one(
            f"{srows.SELECT_SERVICE} WHERE sid = ? AND account_sid = ?", (sid, account_sid)
        )
        return None if r is None else srows.service_from(r)

    async def save_service(self, service: MessagingService) -> None:
        await self._exec(srows.UPDATE_SERVICE, srows.service_params(service))

    async def delete_service(self, account_sid: str, sid: str) -> bool:
        n = await self._exec(
            "DELETE FROM messaging_services WHERE sid = :sid AND account_sid = :a",
            {"sid": sid, "a": account_sid},
        )
        return n > 0

    async def list_services(self, account_sid: str, page: PageRequest) -> Page[MessagingService]:
        return await self._page(
            srows.SELECT_SERVICE,
            ["account_sid = :a"],
            {"a": account_sid},
            ("sid",),
            descending=False,
            page=page,
            boundary=_sid_boundary(page),
            convert=srows.service_from,
        )

    async def add_pool_number(self, entry: PoolNumber, limit: int) -> PoolAdd:
        return await self._write(lambda c: services.add_pool_number(c.as_sqlite(), entry, limit))

    async def get_pool_number(self, service_sid: str, number_sid: str) -> PoolNumber | None:
        r = await self._one(
            f"{srows.SELECT_POOL_NUMBER} WHERE s.service_sid = ? AND s.number_sid = ?",
            (service_sid, number_sid),
        )
        return None if r is None else srows.pool_number_from(r)

    async def remove_pool_number(self, service_sid: str, number_sid: str) -> bool:
        n = await self._exec(
            "DELETE FROM service_numbers WHERE service_sid = :s AND number_sid = :n",
            {"s": service_sid, "n": number_sid},
        )
        return n > 0

    async def list_pool_numbers(self, service_sid: str, page: PageRequest) -> Page[PoolNumber]:
        return await self._page(
            srows.SELECT_POOL_NUMBER,
            ["s.service_sid = :s"],
            {"s": service_sid},
            ("s.number_sid",),
            descending=False,
            page=page,
            boundary=_sid_boundary(page),
            convert=srows.pool_number_from,
        )

    async def pool_senders(self, service_sid: str) -> list[PhoneNumber]:
        found = await self._all(srows.SELECT_POOL_SENDERS, (service_sid,))
        return [rows.number_from(r) for r in found]

    async def service_of_number(self, number_sid: str) -> MessagingService | None:
        r = await self._one(srows.SELECT_SERVICE_OF_NUMBER, (number_sid,))
        return None if r is None else srows.service_from(r)

    async def insert_unassigned(self, message: Message) -> None:
        await self._write(lambda c: services.insert_unassigned(c.as_sqlite(), message))

    async def assign_sender(self, assignment: Assignment) -> Message | None:
        return await self._write(lambda c: services.assign_sender(c.as_sqlite(), assignment))

    # -- webhook outbox --------------------------------------------------------------------

    async def claim_callbacks(
        self, owner: str, now_us: int, lease_us: int, limit: int
    ) -> list[ClaimedCallback]:
        return await self._claim(
            lambda c: pgdelivery.claim_callbacks(c, owner, now_us, lease_us, limit)
        )

    async def finish_callback(self, result: CallbackResult) -> None:
        await self._write_grouped(_finish_callbacks, result)

    async def release_callbacks(self, ids: list[int], owner: str, now_us: int) -> None:
        await self._write(lambda c: delivery.release_callbacks(c.as_sqlite(), ids, owner, now_us))

    async def callback_attempts(self, message_sid: str) -> list[CallbackAttempt]:
        return await self._read(lambda c: delivery.callback_attempts(c.as_sqlite(), message_sid))

    async def status_history(self, message_sid: str) -> list[StatusChange]:
        return await self._read(lambda c: history.read(c.as_sqlite(), message_sid))

    # -- inbound messages and opt-outs (smsgate.store.sqlite_inbound) ----------------------

    async def insert_inbound(self, record: InboundRecord) -> None:
        blobs = self.blobs

        def op(c: PgConn) -> None:
            if record.media:
                _hold_media(c, exclusive=False)
            inbound.insert_inbound(c.as_sqlite(), record, blobs)

        await self._write(op)

    async def is_opted_out(self, scope: str, address: str) -> bool:
        return await self._read(lambda c: inbound.is_opted_out(c.as_sqlite(), scope, address))

    async def finish_inbound_callback(
        self,
        result: CallbackResult,
        message_sid: str,
        date_sent_us: int,
        replies: tuple[QueuedReply, ...],
    ) -> None:
        await self._write(
            lambda c: inbound.finish_inbound_callback(
                c.as_sqlite(), result, message_sid, date_sent_us, replies
            )
        )

    # -- media and feedback (smsgate.store.sqlite_media) -----------------------------------

    async def attach_media(
        self, message_sid: str, items: list[Media], staged: list[StagedFile], now_us: int
    ) -> bool:
        blobs = self.blobs

        def op(c: PgConn) -> bool:
            _hold_media(c, exclusive=False)
            return media.attach_outbound(c.as_sqlite(), blobs, message_sid, items, staged, now_us)

        return await self._write(op)

    async def has_media(self, message_sid: str) -> bool:
        return await self._read(lambda c: media.has_media(c.as_sqlite(), message_sid))

    async def get_media(self, account_sid: str, message_sid: str, sid: str) -> Media | None:
        r = await self._one(
            f"{media.SELECT_MEDIA} WHERE sid = ? AND message_sid = ? AND account_sid = ?",
            (sid, message_sid, account_sid),
        )
        return None if r is None else media.media_from(r)

    async def list_media(
        self, account_sid: str, message_sid: str, created: DateRange, page: PageRequest
    ) -> Page[Media]:
        where = ["message_sid = :message", "account_sid = :account"]
        params: dict[str, Any] = {"message": message_sid, "account": account_sid}
        if created.after is not None:
            where.append("date_created >= :after")
            params["after"] = to_us(created.after)
        if created.before is not None:
            where.append("date_created < :before")
            params["before"] = to_us(created.before)
        return await self._page(
            media.SELECT_MEDIA,
            where,
            params,
            ("sid",),
            descending=False,
            page=page,
            boundary=_sid_boundary(page),
            convert=media.media_from,
        )

    async def delete_media(self, account_sid: str, message_sid: str, sid: str) -> bool:
        return await self._write(
            lambda c: media.delete_media(c.as_sqlite(), account_sid, message_sid, sid)
        )

    def media_content(self, digest: str) -> Path | None:
        path = self.blobs.path_of(digest)
        return path if path.is_file() else None

    async def collect_media(self) -> int:
        blobs = self.blobs

        def op(c: PgConn) -> int:
            _hold_media(c, exclusive=True)
            return media.collect(c.as_sqlite(), blobs)

        return await self._write(op)

    async def save_feedback(self, feedback: Feedback) -> Feedback | None:
        return await self._write(lambda c: media.save_feedback(c.as_sqlite(), feedback))


class _Group:
    """The queued items of one grouped operation, run together, one transaction at a time.

    While a transaction runs, new items queue; the next transaction takes all of them
    (up to MAX_BATCH). If a batch raises anything but StoreUnavailable, each of its items
    runs again alone, so that only the item at fault fails.
    """

    def __init__(self, store: PostgresStore, run_many: RunMany, *, read: bool = False) -> None:
        """``read``: a grouped read, one autocommit statement set per batch outside the
        writers' lane (several may run at once)."""
        self._store = store
        self._run_many = run_many
        self._runner = store._read if read else store._write_in_lane
        self._pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def submit(self, item: Any) -> Any:
        return await self.queue(item)

    def queue(self, item: Any) -> asyncio.Future[Any]:
        """Queue ``item`` now; the future gives its result."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        self._wake.set()
        return fut

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._run(batch)

    async def _run(self, batch: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        run_many = self._run_many
        items = [item for item, _ in batch]
        try:
            results = await self._runner(lambda c: run_many(c, items))
        except StoreUnavailable as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        except Exception:
            for item, fut in batch:
                try:
                    one = await self._runner(_alone(run_many, item))
                except Exception as exc:
                    if not fut.done():
                        fut.set_exception(exc)
                else:
                    if not fut.done():
                        fut.set_result(one[0])
            return
        for (_, fut), result in zip(batch, results, strict=True):
            if not fut.done():
                fut.set_result(result)


def _alone(run_many: RunMany, item: Any) -> Op[list[Any]]:
    return lambda c: run_many(c, [item])


def _find_carrier_refs(c: PgConn, items: list[tuple[str, ...]]) -> list[CarrierRef | None]:
    return delivery.find_carrier_refs_many(c.as_sqlite(), items)


def _parked_receipts(
    c: PgConn, items: list[tuple[str, ...]]
) -> list[list[tuple[str, ParkedReceipt]]]:
    return delivery.parked_receipts_many(c.as_sqlite(), items)


# The grouped operations, as run_many functions over a PgConn.


def _insert_messages(c: PgConn, messages: list[Message]) -> list[None]:
    return sqlite_batch.insert_messages(c.as_sqlite(), messages)


def _insert_outbound_many(c: PgConn, items: list[tuple[Message, float]]) -> list[bool]:
    return delivery.insert_outbound_many(c.as_sqlite(), items)


def _finish_callbacks(c: PgConn, results: list[CallbackResult]) -> list[None]:
    return delivery.finish_callbacks(c.as_sqlite(), results)


def _hold_media(c: PgConn, *, exclusive: bool) -> None:
    lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    c.conn.execute(f"SELECT {lock}(%s)", (MEDIA_LOCK,))


def _sweep_media(c: PgConn, blobs: BlobDir) -> int:
    _hold_media(c, exclusive=True)
    return media.sweep(c.as_sqlite(), blobs)


def _conditional_update(
    c: PgConn,
    account_sid: str,
    sid: str,
    allowed: frozenset[Status],
    assignments: str,
    params: dict[str, Any],
) -> tuple[Outcome, Message | None]:
    """Apply ``assignments`` if the message's status is in ``allowed``; return the row after."""
    select = f"SELECT {rows.MESSAGE_COLS} FROM messages WHERE sid = ? AND account_sid = ?"
    row = c.execute(select, (sid, account_sid)).fetchone()
    if row is None:
        return Outcome.NOT_FOUND, None
    if Status(row[5]) not in allowed:
        return Outcome.REFUSED, rows.message_from(row)
    c.execute(f"UPDATE messages SET {assignments} WHERE sid = :sid", {**params, "sid": sid})
    after = c.execute(select, (sid, account_sid)).fetchone()
    assert after is not None
    return Outcome.DONE, rows.message_from(after)


def _sid_boundary(page: PageRequest) -> tuple[Any, ...] | None:
    return None if page.cursor is None else (page.cursor.sid,)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _applied(
    written: asyncio.Future[tuple[Message, int | None] | None],
) -> tuple[Message | None, int | None]:
    got = await written
    return (None, None) if got is None else got


async def _applied_only(
    written: asyncio.Future[tuple[Message, int | None] | None],
) -> tuple[bool, int | None]:
    got = await written
    return (False, None) if got is None else (True, got[1])
