"""The embedded store: one SQLite file in the data dir.

Design (see docs/architecture.md):

* exactly one writer thread owns the only writing connection. It drains whatever writes are
  pending into one transaction and commits them together (group commit), then wakes every
  waiting request. With ``synchronous=FULL`` each commit is fsynced, so a caller is only
  answered once its row is on disk, and the fsync is shared by the whole batch;
* a batch runs without savepoints; if any write in it fails, the batch is rolled back and each
  write runs again in its own SAVEPOINT, so one failing write never undoes its neighbours;
* writes many requests make at once (a message and its delivery job) are grouped: the writer
  runs them once per batch with multi-row statements (see _Grouped);
* point reads (by primary key) run inline on the event loop's own read connection: they take
  microseconds and a thread hop would cost more. So do message list pages read by keyset: each
  is one index seek reading page size + 1 rows (tests/integration/test_query_plans.py), and
  turning those rows into Messages runs on the loop anyway. On the reader pool the hop and
  the GIL hand-off after every fetched row cost more CPU than the seek itself (1.4-2.0 ms
  against 1.1 ms per 50-row page, and a third less throughput under load);
* reads that may walk many rows (legacy ``Page=N`` offsets, account and number lists with
  substring filters) run on a small reader pool, so they never stall the loop.
  WAL lets readers proceed while the writer commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson

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
from smsgate.store.schema import upgrade

logger = logging.getLogger(__name__)
T = TypeVar("T")
E = TypeVar("E")
Op = Callable[[sqlite3.Connection], Any]
RunMany = Callable[[sqlite3.Connection, list[Any]], list[Any]]
MAX_BATCH = 512
DB_FILE = "smsgate.db"
# WAL frames (pages) after which the writer checkpoints by itself: a backstop for the
# checkpointer thread, which normally leaves it only the last few frames to copy.
WRITER_CHECKPOINT_FRAMES = 8192
WRITER_CACHE_KIB = 65536
CHECKPOINT_EVERY = 0.1  # seconds between the checkpointer's passes while the WAL has frames


def _connect(path: Path, *, writer: bool) -> sqlite3.Connection:
    # The writer keeps a prepared statement for every multi-row INSERT size it uses.
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=256 if writer else 128)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    if writer:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_FRAMES}")
        conn.execute(f"PRAGMA journal_size_limit = {4 * 4096 * WRITER_CHECKPOINT_FRAMES}")
        # A multi-row INSERT inside a transaction keeps a statement journal (to undo just
        # that statement); past 64 KiB SQLite spills it to a new temporary file, which cost
        # an open, writes and an unlink in every batch. Keep it in memory.
        conn.execute("PRAGMA temp_store = MEMORY")
        # Every create inserts at a random place in the To and To+From indexes; with the
        # default 2 MiB cache the writer reread their pages from the OS on every batch once
        # they outgrew it.
        conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
    else:
        conn.execute("PRAGMA query_only = ON")
    return conn


@dataclass(frozen=True, slots=True)
class _Grouped:
    """One request's share of a write the writer runs for many requests at once.

    The writer hands ``run_many`` the items of every request in its batch with the same
    ``run_many`` and expects one result per item, in order. This is what keeps the writer's
    cost per batch, rather than per request: it holds the GIL only between SQLite calls, and
    each call it makes has to win the GIL back from the busy event loop (see _run_batch).
    """

    run_many: RunMany
    item: Any
    # Turns the item's result into what its future gets, on the event loop (after the lock).
    shape: Callable[[Any], Any] | None = None


_Task = tuple["Op | _Grouped", "asyncio.Future[Any]"]


class _Writer(threading.Thread):
    """The single writer: runs queued operations in batched transactions."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="smsgate-sqlite-writer", daemon=True)
        self._path = path
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        self.ready = threading.Event()
        self.batches = 0
        self.ops = 0

    def submit(self, op: Op | _Grouped) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._queue.put((op, fut))
        return fut

    def stop(self) -> None:
        self._queue.put(None)

    def run(self) -> None:
        conn = _connect(self._path, writer=True)
        lock = os.open(write_lock_path(self._path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.ready.set()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                # Take what is queued once the lock is ours: while another process held it,
                # more work came, and it joins this transaction instead of waiting for the
                # lock (and paying a commit) again.
                with _held(lock):
                    batch, stopping = self._drain(first)
                    results = self._run_batch(conn, batch)
                self._loop.call_soon_threadsafe(_resolve_all, batch, results)
                if stopping:
                    return
        finally:
            conn.close()
            os.close(lock)

    def _drain(self, first: _Task) -> tuple[list[_Task], bool]:
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Task]) -> list[Any]:
        self.batches += 1
        self.ops += len(batch)
        return _run_batch(conn, [op for op, _ in batch])


def write_lock_path(db: Path) -> Path:
    """The lock file every smsgate process takes around each write transaction on ``db``."""
    return db.with_name(db.name + "-writelock")


@contextmanager
def _held(fd: int) -> Iterator[None]:
    """Hold the cross-process write lock (``flock``) for one write transaction.

    Several processes may write one file (``smsgate serve --no-worker`` beside ``smsgate
    worker``, the CLI beside a server). SQLite alone lets a writer that finds the file locked
    sleep in its busy handler (1, 2, 5, 10 … 100 ms) while the other process takes the lock
    again and again, so under load one of them starved (create p99 3.8 s). Waiting on
    ``flock`` instead is a kernel wait that ends when the lock is released; SQLite's own lock
    and busy timeout stay, for writers that do not take this lock (migrations, the sqlite3
    shell). The kernel releases the lock of a process that dies, SIGKILL included.
    """
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _run_batch(conn: sqlite3.Connection, ops: list[Op | _Grouped]) -> list[Any]:
    """Run ``ops`` in one transaction and commit once; one result (or exception) per op.

    Every call into SQLite releases the GIL and must take it back from the event loop, which
    is busy under load, so the common case makes few calls: no savepoints, and grouped
    operations run once for the whole batch. If anything raises, the transaction is rolled
    back and each operation runs again alone in its own SAVEPOINT, so that one failing write
    never undoes its neighbours and never leaves half of itself behind.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        return [StoreUnavailable(f"cannot start a write: {exc}")] * len(ops)
    try:
        results = _run_together(conn, ops)
    except Exception:
        again = _run_apart(conn, ops)
        if again is None:
            return [StoreUnavailable("cannot restart a failed write")] * len(ops)
        results = again
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(conn)
        return [StoreUnavailable(f"commit failed: {exc}")] * len(ops)
    return results


def _run_together(conn: sqlite3.Connection, ops: list[Op | _Grouped]) -> list[Any]:
    results: list[Any] = [None] * len(ops)
    groups: dict[RunMany, list[int]] = {}
    for i, op in enumerate(ops):
        if isinstance(op, _Grouped):
            groups.setdefault(op.run_many, []).append(i)
        else:
            results[i] = op(conn)
    for run_many, where in groups.items():
        out = run_many(conn, [_item(ops[i]) for i in where])
        for i, result in zip(where, out, strict=True):
            results[i] = result
    return results


def _item(op: Op | _Grouped) -> Any:
    assert isinstance(op, _Grouped)
    return op.item


def _run_apart(conn: sqlite3.Connection, ops: list[Op | _Grouped]) -> list[Any] | None:
    """After a failure: start again, each op in its own savepoint. None if SQLite refuses."""
    _rollback(conn)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error:
        return None
    return [_run_alone(conn, op) for op in ops]


def _run_alone(conn: sqlite3.Connection, op: Op | _Grouped) -> Any:
    conn.execute("SAVEPOINT op")
    try:
        result = op.run_many(conn, [op.item])[0] if isinstance(op, _Grouped) else op(conn)
    except Exception as exc:
        conn.execute("ROLLBACK TO op")
        conn.execute("RELEASE op")
        return _translate(exc)
    conn.execute("RELEASE op")
    return result


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite may have rolled back already (an I/O error or a full disk does).
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
        return DuplicateKey(str(exc))
    if isinstance(exc, sqlite3.OperationalError):
        return StoreUnavailable(str(exc))
    return exc


def _resolve_all(batch: list[_Task], results: list[Any]) -> None:
    for (op, fut), result in zip(batch, results, strict=True):
        if fut.cancelled():
            continue
        if isinstance(result, BaseException):
            fut.set_exception(result)
        elif isinstance(op, _Grouped) and op.shape is not None:
            fut.set_result(op.shape(result))
        else:
            fut.set_result(result)


class _Checkpointer(threading.Thread):
    """Copies committed pages from the WAL back into the database file, off the write path.

    SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, so
    every few hundred creates one batch also copied a thousand pages and fsynced the
    database file, and as the file grew those batches took tens to hundreds of
    milliseconds: the p99. This thread runs PASSIVE checkpoints on its own connection
    instead; they never block the writer or readers. The writer keeps a high automatic
    threshold (WRITER_CHECKPOINT_FRAMES) as a backstop, which also lets the WAL start over
    from its beginning under continuous load, when only its last few frames are left.
    """

    def __init__(self, path: Path, every: float = CHECKPOINT_EVERY) -> None:
        super().__init__(name="smsgate-sqlite-checkpoint", daemon=True)
        self._path = path
        self._every = every
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous = FULL")
            while not self._stopping.wait(self._every):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # the backstop still checkpoints
                    logger.warning("background checkpoint failed: %s", exc)
        finally:
            conn.close()


class _ReadCache(Generic[E]):
    """Entities by key, filled on read and dropped around every write that may change them.

    Entities are frozen dataclasses, so every caller can share the cached object.
    """

    def __init__(self, enabled: bool = True) -> None:
        self._items: dict[str, E] = {}
        self._enabled = enabled

    def get(self, key: str, load: Callable[[str], E | None]) -> E | None:
        if not self._enabled:
            return load(key)
        found = self._items.get(key)
        if found is None:
            found = load(key)
            if found is None:
                return None
            self._items[key] = found
        return found

    @contextmanager
    def writing(self, key: str | None) -> Iterator[None]:
        """Drop ``key`` (None: everything) before the write and again once it committed."""
        self._drop(key)
        try:
            yield
        finally:
            self._drop(key)

    def _drop(self, key: str | None) -> None:
        if key is None:
            self._items.clear()
        else:
            self._items.pop(key, None)


class SqliteStore:
    """The Store on one SQLite file (by default ``<data dir>/smsgate.db``)."""

    def __init__(
        self,
        path: Path,
        *,
        readers: int = 2,
        media_dir: Path | None = None,
        cache_entities: bool = True,
    ) -> None:
        """``media_dir``: where media content lives (default: ``media`` beside the file).
        ``cache_entities``: cache accounts, keys and numbers (below); only for the process
        that serves the API, which is the only one that changes them."""
        self.path = path
        self.blobs = BlobDir(media_dir if media_dir is not None else path.parent / "media")
        self._readers_n = readers
        self._writer: _Writer | None = None
        self._checkpointer: _Checkpointer | None = None
        self._inline: sqlite3.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        # Every request authenticates and checks its sender: cache those small tables here.
        # This process is the only writer of the file (the CLI only adds accounts), so
        # dropping an entry around each write keeps the caches exact.
        self._accounts: _ReadCache[Account] = _ReadCache(cache_entities)
        self._keys: _ReadCache[ApiKey] = _ReadCache(cache_entities)
        self._numbers: _ReadCache[PhoneNumber] = _ReadCache(cache_entities)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(upgrade, self.url)
        self._writer = _Writer(self.path)
        self._writer.start()
        await asyncio.to_thread(self._writer.ready.wait)
        self._checkpointer = _Checkpointer(self.path)
        self._checkpointer.start()
        self._inline = _connect(self.path, writer=False)
        self._pool = ThreadPoolExecutor(self._readers_n, thread_name_prefix="smsgate-sqlite-read")
        await self._sweep_media()

    async def _sweep_media(self) -> None:
        """Remove what a crash may have left: staged files no fetch owns any more, and
        content no Media row names (linked in a transaction that never committed)."""
        blobs = self.blobs
        await asyncio.to_thread(blobs.ensure)
        staged = await asyncio.to_thread(blobs.sweep_staging)
        swept = await self._write(lambda c: media.sweep(c, blobs))
        if staged or swept:
            logger.info("media sweep: %d staged and %d stored files removed", staged, swept)

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            await asyncio.to_thread(self._checkpointer.join)
            self._checkpointer = None
        if self._writer is not None:
            self._writer.stop()
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._inline is not None:
            self._inline.close()
            self._inline = None

    # -- plumbing --------------------------------------------------------------------------

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            raise StoreError("store is not open")
        result: T = await self._writer.submit(op)
        return result

    async def _write_grouped(self, run_many: RunMany, item: Any) -> Any:
        """Submit ``item`` for ``run_many``, which the writer runs once for its whole batch."""
        if self._writer is None:
            raise StoreError("store is not open")
        return await self._writer.submit(_Grouped(run_many, item))

    def _read_now(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._inline is None:
            raise StoreError("store is not open")
        try:
            return op(self._inline)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def _scan(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._pool is None:
            raise StoreError("store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._in_reader, op)

    def _in_reader(self, op: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, writer=False)
            self._local.conn = conn
        try:
            return op(conn)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def _one(self, sql: str, params: dict[str, Any] | tuple[Any, ...]) -> Any:
        return self._read_now(lambda c: c.execute(sql, params).fetchone())

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
        seek: bool = False,
    ) -> Page[T]:
        """One page; ``seek``: the query is a pure index seek, read it inline (no OFFSET)."""
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

        def fetch(c: sqlite3.Connection) -> list[rows.Row]:
            return c.execute(sql, args).fetchall()

        fetched = self._read_now(fetch) if seek and not page.offset else await self._scan(fetch)
        return rows.to_page([convert(r) for r in fetched], page, reverse)

    # -- accounts --------------------------------------------------------------------------

    async def create_account(self, account: Account) -> None:
        await self._exec(rows.INSERT_ACCOUNT, rows.account_params(account))

    async def get_account(self, sid: str) -> Account | None:
        return self._accounts.get(sid, self._load_account)

    def _load_account(self, sid: str) -> Account | None:
        r = self._one(f"SELECT {rows.ACCOUNT_COLS} FROM accounts WHERE sid = ?", (sid,))
        return None if r is None else rows.account_from(r)

    async def save_account(self, account: Account) -> None:
        with self._accounts.writing(account.sid):
            await self._exec(rows.UPDATE_ACCOUNT, rows.account_params(account))

    async def count_accounts(self) -> int:
        return int(self._one("SELECT count(*) FROM accounts", ())[0])

    async def all_accounts(self) -> list[Account]:
        sql = f"SELECT {rows.ACCOUNT_COLS} FROM accounts ORDER BY sid"
        return [rows.account_from(r) for r in await self._scan(lambda c: c.execute(sql).fetchall())]

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
        return self._keys.get(sid, self._load_key)

    def _load_key(self, sid: str) -> ApiKey | None:
        r = self._one(f"SELECT {rows.KEY_COLS} FROM api_keys WHERE sid = ?", (sid,))
        return None if r is None else rows.key_from(r)

    async def save_key(self, key: ApiKey) -> None:
        with self._keys.writing(key.sid):
            await self._exec(rows.UPDATE_KEY, rows.key_params(key))

    async def delete_key(self, account_sid: str, sid: str) -> bool:
        with self._keys.writing(sid):
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
        with self._numbers.writing(None):
            await self._exec(rows.INSERT_NUMBER, rows.number_params(number))

    async def get_number(self, account_sid: str, sid: str) -> PhoneNumber | None:
        r = self._one(
            f"SELECT {rows.NUMBER_COLS} FROM phone_numbers WHERE sid = ? AND account_sid = ?",
            (sid, account_sid),
        )
        return None if r is None else rows.number_from(r)

    async def find_number(self, phone_number: str) -> PhoneNumber | None:
        return self._numbers.get(phone_number, self._load_number)

    def _load_number(self, phone_number: str) -> PhoneNumber | None:
        r = self._one(
            f"SELECT {rows.NUMBER_COLS} FROM phone_numbers WHERE phone_number = ?",
            (phone_number,),
        )
        return None if r is None else rows.number_from(r)

    async def save_number(self, number: PhoneNumber) -> None:
        with self._numbers.writing(None):
            await self._exec(rows.UPDATE_NUMBER, rows.number_params(number))

    async def delete_number(self, account_sid: str, sid: str) -> bool:
        with self._numbers.writing(None):
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
            where.append("phone_number LIKE :pn ESCAPE '\\'")
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
        await self._write_grouped(sqlite_batch.insert_messages, message)

    async def get_message(self, account_sid: str, sid: str) -> Message | None:
        r = self._one(
            f"SELECT {rows.MESSAGE_COLS} FROM messages WHERE sid = ? AND account_sid = ?",
            (sid, account_sid),
        )
        return None if r is None else rows.message_from(r)

    async def save_message(self, message: Message) -> None:
        await self._write(lambda c: history.save_message(c, message))

    async def list_messages(
        self, account_sid: str, flt: MessageFilter, page: PageRequest
    ) -> Page[Message]:
        where, params, key_range = rows.message_filter(account_sid, flt)
        boundary = None
        if page.cursor is not None:
            boundary = self._message_boundary(account_sid, page.cursor.sid)
        if flt.number is not None and not page.offset:
            sql, args, reverse = rows.number_page_query(account_sid, flt, page, boundary)
            found = await self._scan(lambda c: c.execute(sql, args).fetchall())
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
            # The console's filters may walk many rows: those pages read on a reader thread.
            seek=flt.seeks,
        )

    async def messages_updated_since(
        self, account_sid: str, after_us: int, after_sid: str, limit: int
    ) -> list[Message]:
        params = {"a": account_sid, "t": after_us, "s": after_sid, "limit": limit}
        found = await self._scan(lambda c: c.execute(rows.UPDATED_SINCE, params).fetchall())
        return [rows.message_from(r) for r in found]

    async def count_messages(self, account_sid: str, flt: MessageFilter) -> int:
        sql, params = rows.count_query(account_sid, flt)
        count: int = await self._scan(lambda c: c.execute(sql, params).fetchone()[0])
        return count

    async def search_messages(self, account_sid: str, search: MessageSearch) -> list[Message]:
        sql, params = rows.search_query(account_sid, search)
        found = await self._scan(lambda c: c.execute(sql, params).fetchall())
        return [rows.message_from(r) for r in found]

    def _message_boundary(self, account_sid: str, sid: str) -> tuple[Any, ...]:
        r = self._one(rows.MESSAGE_BOUNDARY, {"sid": sid, "a": account_sid})
        if r is None:
            raise UnknownCursor(sid)
        return (r[0], sid)

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
            lambda c: services.cancel_scheduled(c, account_sid, sid, now_us, callback)
        )

    async def delete_message(
        self, account_sid: str, sid: str, allowed: frozenset[Status], now_us: int
    ) -> tuple[Outcome, Status | None]:
        def op(c: sqlite3.Connection) -> tuple[Outcome, Status | None]:
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
            media.delete_message_media(c, sid)
            history.delete(c, sid)
            c.execute("DELETE FROM messages WHERE sid = ?", (sid,))
            return Outcome.DONE, status

        return await self._write(op)

    # -- delivery pipeline (smsgate.store.sqlite_delivery) ---------------------------------

    async def insert_outbound(self, message: Message, mps: float) -> bool:
        return bool(await self._write_grouped(delivery.insert_outbound_many, (message, mps)))

    async def claim_jobs(
        self, owner: str, now_us: int, lease_us: int, limit: int
    ) -> list[DeliveryJob]:
        return await self._write(lambda c: delivery.claim_jobs(c, owner, now_us, lease_us, limit))

    async def claim_expired_jobs(
        self, owner: str, now_us: int, lease_us: int, limit: int
    ) -> list[DeliveryJob]:
        return await self._write(
            lambda c: delivery.claim_expired_jobs(c, owner, now_us, lease_us, limit)
        )

    async def drop_job(self, message_sid: str) -> None:
        await self._write(lambda c: delivery.drop_job(c, message_sid))

    async def apply_transition(self, change: Transition) -> Message | None:
        return (await self.apply_transition_leased(change))[0]

    async def apply_transition_leased(
        self, change: Transition
    ) -> tuple[Message | None, int | None]:
        return await _applied(self._submit_transition(change))

    def queue_transition(self, change: Transition) -> asyncio.Future[tuple[bool, int | None]]:
        # The writer's own future, its result shaped as it is resolved: no task or
        # coroutine per change (the worker queues three a message).
        return self._submit_transition(change, _applied_flag)

    def _submit_transition(
        self, change: Transition, shape: Callable[[Any], Any] | None = None
    ) -> asyncio.Future[Any]:
        if self._writer is None:
            raise StoreError("store is not open")
        return self._writer.submit(_Grouped(delivery.apply_transition_rows, change, shape))

    async def find_carrier_ref(self, carrier_ids: tuple[str, ...]) -> CarrierRef | None:
        return self._read_now(lambda c: delivery.find_carrier_ref(c, carrier_ids))

    async def carrier_parts(self, message_sid: str) -> list[CarrierPart]:
        found = self._read_now(
            lambda c: c.execute(rows.CARRIER_PARTS, {"m": message_sid}).fetchall()
        )
        return [CarrierPart(*r) for r in found]

    async def park_receipt(self, receipt: ParkedReceipt) -> CarrierRef | None:
        return await self._write(lambda c: delivery.park_receipt(c, receipt))

    async def parked_receipts(
        self, carrier_ids: tuple[str, ...]
    ) -> list[tuple[str, ParkedReceipt]]:
        # In the writer, grouped: one SELECT for every message recorded as sent meanwhile.
        found: list[tuple[str, ParkedReceipt]] = await self._write_grouped(
            delivery.parked_receipts_many, carrier_ids
        )
        return found

    async def drop_parked_receipts(self, carrier_ids: tuple[str, ...]) -> None:
        await self._write(lambda c: delivery.drop_parked_receipts(c, carrier_ids))

    async def orphaned_receipts(
        self, parked_before_us: int, limit: int
    ) -> list[tuple[CarrierRef, ParkedReceipt]]:
        return await self._scan(lambda c: delivery.orphaned_receipts(c, parked_before_us, limit))

    async def forget_parked_receipts(self, parked_before_us: int, limit: int) -> int:
        return await self._write(
            lambda c: delivery.forget_parked_receipts(c, parked_before_us, limit)
        )

    async def mark_part(self, carrier_id: str, state: str) -> list[str]:
        return await self._write(lambda c: delivery.mark_part(c, carrier_id, state))

    async def claim_receipt_waits(self, now_us: int, lease_us: int, limit: int) -> list[str]:
        return await self._write(lambda c: delivery.claim_receipt_waits(c, now_us, lease_us, limit))

    async def drop_receipt_wait(self, message_sid: str) -> None:
        await self._write(
            lambda c: c.execute("DELETE FROM receipt_waits WHERE message_sid = ?", (message_sid,))
        )

    async def get_submit_progress(self, message_sid: str) -> SubmitProgress | None:
        r = self._one(
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
        return await self._write(lambda c: delivery.add_mo_part(c, part))

    async def drop_mo_parts(self, part: MoPart) -> None:
        await self._write(lambda c: delivery.drop_mo_parts(c, part))

    async def hold_bind_slot(
        self, carrier: str, holder: str, limit: int, now_us: int, lease_us: int
    ) -> bool:
        return await self._write(
            lambda c: sqlite_binds.hold_bind_slot(c, carrier, holder, limit, now_us, lease_us)
        )

    async def release_bind_slot(self, carrier: str, holder: str) -> None:
        await self._write(lambda c: sqlite_binds.release_bind_slot(c, carrier, holder))

    async def get_message_by_sid(self, sid: str) -> Message | None:
        r = self._one(f"SELECT {rows.MESSAGE_COLS} FROM messages WHERE sid = ?", (sid,))
        return None if r is None else rows.message_from(r)

    async def get_messages_by_sid(self, sids: list[str]) -> dict[str, Message]:
        return self._read_now(lambda c: delivery.messages_by_sid(c, sids))

    # -- Messaging Services (smsgate.store.sqlite_services) ---------------------------------

    async def create_service(self, service: MessagingService) -> None:
        await self._exec(srows.INSERT_SERVICE, srows.service_params(service))

    async def get_service(self, account_sid: str, sid: str) -> MessagingService | None:
        r = self._one(
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
        return await self._write(lambda c: services.add_pool_number(c, entry, limit))

    async def get_pool_number(self, service_sid: str, number_sid: str) -> PoolNumber | None:
        r = self._one(
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
        found = self._read_now(
            lambda c: c.execute(srows.SELECT_POOL_SENDERS, (service_sid,)).fetchall()
        )
        return [rows.number_from(r) for r in found]

    async def service_of_number(self, number_sid: str) -> MessagingService | None:
        r = self._one(srows.SELECT_SERVICE_OF_NUMBER, (number_sid,))
        return None if r is None else srows.service_from(r)

    async def insert_unassigned(self, message: Message) -> None:
        await self._write(lambda c: services.insert_unassigned(c, message))

    async def assign_sender(self, assignment: Assignment) -> Message | None:
        return await self._write(lambda c: services.assign_sender(c, assignment))

    # -- webhook outbox --------------------------------------------------------------------

    async def claim_callbacks(
        self, owner: str, now_us: int, lease_us: int, limit: int
    ) -> list[ClaimedCallback]:
        found = await self._write(
            lambda c: delivery.claim_callback_rows(c, owner, now_us, lease_us, limit)
        )
        return delivery.claimed_callbacks(found)

    async def finish_callback(self, result: CallbackResult) -> None:
        await self._write_grouped(delivery.finish_callbacks, result)

    async def release_callbacks(self, ids: list[int], owner: str, now_us: int) -> None:
        await self._write(lambda c: delivery.release_callbacks(c, ids, owner, now_us))

    async def callback_attempts(self, message_sid: str) -> list[CallbackAttempt]:
        return await self._scan(lambda c: delivery.callback_attempts(c, message_sid))

    async def status_history(self, message_sid: str) -> list[StatusChange]:
        # A handful of rows by one index seek: read inline, like carrier_parts.
        return self._read_now(lambda c: history.read(c, message_sid))

    # -- inbound messages and opt-outs (smsgate.store.sqlite_inbound) ----------------------

    async def insert_inbound(self, record: InboundRecord) -> None:
        blobs = self.blobs
        await self._write(lambda c: inbound.insert_inbound(c, record, blobs))

    async def is_opted_out(self, scope: str, address: str) -> bool:
        # Not cached: `smsgate simulate inbound` may record a STOP from another process.
        return self._read_now(lambda c: inbound.is_opted_out(c, scope, address))

    async def finish_inbound_callback(
        self,
        result: CallbackResult,
        message_sid: str,
        date_sent_us: int,
        replies: tuple[QueuedReply, ...],
    ) -> None:
        await self._write(
            lambda c: inbound.finish_inbound_callback(c, result, message_sid, date_sent_us, replies)
        )

    # -- media and feedback (smsgate.store.sqlite_media) -----------------------------------

    async def attach_media(
        self, message_sid: str, items: list[Media], staged: list[StagedFile], now_us: int
    ) -> bool:
        blobs = self.blobs
        return await self._write(
            lambda c: media.attach_outbound(c, blobs, message_sid, items, staged, now_us)
        )

    async def has_media(self, message_sid: str) -> bool:
        return self._read_now(lambda c: media.has_media(c, message_sid))

    async def get_media(self, account_sid: str, message_sid: str, sid: str) -> Media | None:
        r = self._one(
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
            seek=True,
        )

    async def delete_media(self, account_sid: str, message_sid: str, sid: str) -> bool:
        return await self._write(lambda c: media.delete_media(c, account_sid, message_sid, sid))

    def media_content(self, digest: str) -> Path | None:
        path = self.blobs.path_of(digest)
        return path if path.is_file() else None

    async def collect_media(self) -> int:
        blobs = self.blobs
        return await self._write(lambda c: media.collect(c, blobs))

    async def save_feedback(self, feedback: Feedback) -> Feedback | None:
        return await self._write(lambda c: media.save_feedback(c, feedback))


def _conditional_update(
    c: sqlite3.Connection,
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
    return Outcome.DONE, rows.message_from(c.execute(select, (sid, account_sid)).fetchone())


def _sid_boundary(page: PageRequest) -> tuple[Any, ...] | None:
    return None if page.cursor is None else (page.cursor.sid,)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _applied(
    written: asyncio.Future[delivery.Applied | None],
) -> tuple[Message | None, int | None]:
    # The writer returns the row; the Message is built here, after the write lock.
    got = await written
    return (None, None) if got is None else (rows.message_from(got[0]), got[1])


def _applied_flag(got: delivery.Applied | None) -> tuple[bool, int | None]:
    return (False, None) if got is None else (True, got[1])
