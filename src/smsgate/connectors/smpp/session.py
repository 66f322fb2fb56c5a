"""One SMPP session (client side): connect, bind, keep alive, and match responses.

A Session owns one TCP (or TLS) connection. ``request`` sends a PDU and awaits its
response by sequence number, holding one of ``window`` slots while it is outstanding. When
every slot is taken, requests queue in order, and the read loop sends the next one in the
same step in which a response frees its slot: a woken waiter would send it only two or three
event-loop turns later, and under load those turns took ~4 ms of every slot's cycle.
Requests from the SMSC (deliver_sm, data_sm) go to ``on_request``, whose returned
command_status is sent back only after it finishes — so a receipt is acknowledged only
once the handler has durably recorded it. enquire_link keeps the bind alive; any failure
closes the session, fails what is outstanding with SessionClosed, and sets ``closed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from smsgate.connectors.smpp.config import SmppConfig
from smsgate.smpp import pdu
from smsgate.smpp.pdu import Pdu, PduError

logger = logging.getLogger(__name__)

RequestHandler = Callable[[Pdu], Awaitable[int]]

BIND_COMMANDS: Final = {"trx": "bind_transceiver", "tx": "bind_transmitter", "rx": "bind_receiver"}
_MAX_SEQUENCE: Final = 0x7FFFFFFF
_HANDLERS: Final = 64  # SMSC requests handled at once; then reading pauses (back-pressure)


class SessionClosed(ConnectionError):
    """The session ended before the request got its response."""


class BindError(Exception):
    """The SMSC refused the bind."""

    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused with command_status 0x{status:08x}")
        self.status = status


@dataclass(slots=True)
class _Queued:
    """A request waiting for a window slot; ``sent`` gets its sequence number and the
    future of its response once it is written."""

    command: str
    fields: dict[str, Any]
    sent: asyncio.Future[tuple[int, asyncio.Future[Pdu]]]


@dataclass(frozen=True, slots=True)
class WindowReport:
    seconds: float
    answered: int  # requests that left the window (answered, timed out or given up)
    mean_in_use: float  # slots in use, averaged over time
    full_share: float  # the share of the time every slot was in use


class WindowUse:
    """Time-weighted use of a window since the last ``take``: called just before the number
    of requests in the window changes, it adds the time since the previous change."""

    def __init__(self, size: int, now: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._now = now
        self._start = self._changed = now()
        self._slot_s = 0.0
        self._full_s = 0.0
        self._answered = 0

    def changing(self, in_use: int, settled: int = 0) -> None:
        now = self._now()
        elapsed = now - self._changed
        self._slot_s += in_use * elapsed
        if in_use >= self._size:
            self._full_s += elapsed
        self._changed = now
        self._answered += settled

    def take(self, in_use: int) -> WindowReport:
        self.changing(in_use)
        seconds = max(self._changed - self._start, 1e-9)
        report = WindowReport(
            seconds, self._answered, self._slot_s / seconds, self._full_s / seconds
        )
        self._start = self._changed
        self._slot_s = self._full_s = 0.0
        self._answered = 0
        return report


class Session:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        config: SmppConfig,
        on_request: RequestHandler,
        label: str,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._config = config
        self._on_request = on_request
        self.label = label
        # Requests written and not answered (each holds a window slot), by sequence number.
        self._pending: dict[int, asyncio.Future[Pdu]] = {}
        self._queued: deque[_Queued] = deque()
        self._use = WindowUse(config.window)
        self._handlers = asyncio.Semaphore(_HANDLERS)
        self._sequence = 0
        self.closed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    async def open(cls, config: SmppConfig, mode: str, on_request: RequestHandler) -> Session:
        """Connect and bind as ``mode`` (trx, tx or rx). Raises OSError, TimeoutError or
        BindError; a session that could not bind is closed."""
        context: ssl.SSLContext | None = None
        if config.tls:
            context = ssl.create_default_context()
            if not config.tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        async with asyncio.timeout(config.response_timeout):
            reader, writer = await asyncio.open_connection(config.host, config.port, ssl=context)
        session = cls(reader, writer, config, on_request, f"{config.name}/{mode}")
        session._spawn(session._read_loop())
        try:
            response = await session.request(
                BIND_COMMANDS[mode],
                system_id=config.system_id,
                password=config.password,
                system_type=config.system_type,
                interface_version=0x34,
                addr_ton=0,
                addr_npi=0,
                address_range="",
            )
            if response.status != pdu.ESME_ROK:
                raise BindError(response.status)
        except BaseException:
            session.close()
            raise
        session._spawn(session._keep_alive())
        if config.window_stats > 0:
            session._spawn(session._report_window_use())
        logger.info("SMPP %s bound to %s:%s", session.label, config.host, config.port)
        return session

    # --- requests we send -----------------------------------------------------------------

    async def request(self, command: str, **fields: Any) -> Pdu:
        """Send a request and await its response (or generic_nack). Raises SessionClosed,
        or TimeoutError after the configured response timeout (counted from the moment it
        was sent, not from when it started waiting for a window slot)."""
        if self.closed.is_set():
            raise SessionClosed(f"SMPP session {self.label} is closed")
        if len(self._pending) < self._config.window and not self._queued:
            sequence = self._next_sequence()
            future = self._send_request(sequence, pdu.encode(command, sequence, **fields))
        else:
            waiting = _Queued(command, fields, asyncio.get_running_loop().create_future())
            self._queued.append(waiting)
            try:
                sequence, future = await waiting.sent
            except asyncio.CancelledError:
                if waiting.sent.done() and not waiting.sent.cancelled():
                    if waiting.sent.exception() is None:
                        self._settled(waiting.sent.result()[0])  # sent, but nobody waits
                elif waiting in self._queued:
                    self._queued.remove(waiting)
                raise
        try:
            async with asyncio.timeout(self._config.response_timeout):
                await self._writer.drain()
                return await future
        except (ConnectionError, OSError) as exc:
            self.close()
            raise SessionClosed(f"SMPP session {self.label} failed: {exc}") from exc
        finally:
            self._settled(sequence)

    def _send_request(self, sequence: int, data: bytes) -> asyncio.Future[Pdu]:
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._use.changing(len(self._pending))
        self._pending[sequence] = future
        self._writer.write(data)
        return future

    def _settled(self, sequence: int) -> None:
        """The request ``sequence`` no longer holds its slot (answered, timed out, given up):
        the next queued requests go out now."""
        if sequence not in self._pending:
            return
        self._use.changing(len(self._pending), settled=1)
        del self._pending[sequence]
        while self._queued and len(self._pending) < self._config.window:
            if self.closed.is_set():
                return
            waiting = self._queued.popleft()
            if waiting.sent.done():  # its requester gave up
                continue
            sequence = self._next_sequence()
            try:
                data = pdu.encode(waiting.command, sequence, **waiting.fields)
            except Exception as exc:
                waiting.sent.set_exception(exc)
                continue
            waiting.sent.set_result((sequence, self._send_request(sequence, data)))

    async def unbind(self) -> None:
        """Unbind politely (bounded by the response timeout), then close."""
        with contextlib.suppress(SessionClosed, TimeoutError, OSError):
            await self.request("unbind")
        self.close()

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self._writer.close()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(SessionClosed(f"SMPP session {self.label} closed"))
        while self._queued:
            waiting = self._queued.popleft()
            if not waiting.sent.done():
                waiting.sent.set_exception(SessionClosed(f"SMPP session {self.label} closed"))
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        logger.info("SMPP %s closed", self.label)

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % _MAX_SEQUENCE + 1
        return self._sequence

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _send(self, data: bytes) -> None:
        if not self.closed.is_set():
            self._writer.write(data)

    # --- what the SMSC sends --------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await pdu.read_pdu(self._reader)
                try:
                    received = pdu.decode(data)
                except PduError as exc:
                    logger.warning("SMPP %s: undecodable PDU: %s", self.label, exc)
                    if exc.sequence is not None:
                        self._send(pdu.encode("generic_nack", exc.sequence, exc.status))
                    continue
                if received.is_response:
                    future = self._pending.get(received.sequence)
                    if future is not None and not future.done():
                        future.set_result(received)
                    self._settled(received.sequence)  # its slot goes to the next request
                    continue
                await self._dispatch(received)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, PduError) as exc:
            if not self.closed.is_set():
                logger.warning("SMPP %s: connection lost: %s", self.label, exc or type(exc))
        finally:
            self.close()

    async def _dispatch(self, request: Pdu) -> None:
        command = request.command
        if command == "enquire_link":
            self._send(pdu.encode("enquire_link_resp", request.sequence))
        elif command == "unbind":
            self._send(pdu.encode("unbind_resp", request.sequence))
            logger.info("SMPP %s: the SMSC unbound", self.label)
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.drain()
            self.close()
        elif command in ("deliver_sm", "data_sm"):
            await self._handlers.acquire()
            self._spawn(self._handle(request))
        else:
            self._send(pdu.encode("generic_nack", request.sequence, pdu.ESME_RINVCMDID))

    async def _handle(self, request: Pdu) -> None:
        try:
            try:
                status = await self._on_request(request)
            except Exception:
                logger.exception("SMPP %s: handling %s failed", self.label, request.command)
                status = pdu.ESME_RX_T_APPN  # temporary: the SMSC will deliver it again
            fields = {"message_id": ""} if request.command == "data_sm" else {}
            self._send(pdu.encode(f"{request.command}_resp", request.sequence, status, **fields))
        finally:
            self._handlers.release()

    async def _report_window_use(self) -> None:
        """Log how busy the window was, every ``window_stats`` seconds: a window that is
        full most of the time is what limits this bind (raise it, or add binds)."""
        while not self.closed.is_set():
            await asyncio.sleep(self._config.window_stats)
            use = self._use.take(len(self._pending))
            if use.answered:
                logger.info(
                    "SMPP %s window use: %d requests in %.1f s (%.0f/s); window %d: "
                    "%.1f in use on average, full %.0f%% of the time",
                    self.label,
                    use.answered,
                    use.seconds,
                    use.answered / use.seconds,
                    self._config.window,
                    use.mean_in_use,
                    100 * use.full_share,
                )

    async def _keep_alive(self) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(self._config.enquire_link)
            try:
                await self.request("enquire_link")
            except (SessionClosed, TimeoutError):
                logger.warning("SMPP %s: enquire_link unanswered; reconnecting", self.label)
                self.close()
                return
