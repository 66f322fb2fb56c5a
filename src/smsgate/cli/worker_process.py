"""``smsgate serve --worker-process``: the delivery worker and webhook sender in a child process.

One Python process runs Python on one core at a time. With the worker inside ``serve``,
the API, the writer thread, the worker and the webhook sender all share one interpreter
lock, and on a two-core machine the server was pinned at one core while the other idled
(docs/benchmarks.md). Here ``serve`` keeps the API and the creates, and a child process
runs exactly what ``smsgate worker`` runs (its own store connection, writer thread, carrier
and webhook child), so the two halves run on two cores.

Every delivery invariant is the one that already holds between ``serve --no-worker`` and a
separate ``smsgate worker`` (docs/architecture.md, *Delivery*): jobs and callbacks are
leased in the store, a submit takes at most half the lease, sender rates are taken at
enqueue, callbacks of a message are claimed in order, and the processes queue on one
cross-process write lock (smsgate.store.sqlite). Nothing durable lives only in the child.

The control channel is the child's stdin, a pipe: the parent writes the Settings (pickled,
length-prefixed), then a byte whenever it enqueued work (so the child claims at once instead
of at its next poll). End of file means "stop": the parent closes the pipe to stop the child
gracefully, and the kernel closes it when the parent dies, SIGKILL included, so a worker
never outlives its server. A child that exits on its own is started again, with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import struct
import sys
import time
from collections.abc import Callable

from smsgate.config import Settings

log = logging.getLogger("smsgate.worker_process")

_LENGTH = struct.Struct("!I")
# Not ``-m smsgate.cli.worker_process``: the package smsgate.cli imports this module first.
_CHILD_MAIN = "import sys; from smsgate.cli.worker_process import main; sys.exit(main())"
WAKE = b"w"
RESTART_MIN_S = 0.5
RESTART_MAX_S = 30.0
STABLE_S = 10.0  # a child that ran this long starts again after the shortest delay


class WorkerProcess:
    """Starts, wakes, restarts and stops the worker child of ``serve``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._proc: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self._wake_due = False
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise(), name="smsgate-worker-process")

    def wake(self) -> None:
        """New work was enqueued: the child claims now rather than at its next poll. The
        creates of one writer batch resume together: they share one byte, written once the
        loop has run them, and none while a byte is still waiting to be read."""
        if not self._wake_due:
            self._wake_due = True
            asyncio.get_running_loop().call_soon(self._send_wake)

    def _send_wake(self) -> None:
        self._wake_due = False
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return
        if proc.stdin.transport.get_write_buffer_size() == 0:
            proc.stdin.write(WAKE)

    async def close(self) -> None:
        """Stop the child gracefully (it finishes the submits and callbacks in flight), and
        kill it if it has not exited within half the lease plus a margin."""
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), self._settings.lease_seconds / 2 + 10)
        except TimeoutError:
            log.warning("worker process %d did not stop in time; killing it", proc.pid)
            proc.kill()
            await proc.wait()
        if proc.returncode:
            log.warning("worker process %d exited with %s", proc.pid, proc.returncode)

    async def _spawn(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CHILD_MAIN, stdin=asyncio.subprocess.PIPE
        )
        assert proc.stdin is not None
        payload = pickle.dumps(self._settings)
        proc.stdin.write(_LENGTH.pack(len(payload)) + payload)
        self._proc = proc
        self.starts += 1
        log.info("worker process %d started", proc.pid)

    async def _supervise(self) -> None:
        delay = RESTART_MIN_S
        while not self._closing:
            assert self._proc is not None
            started = time.monotonic()
            code = await self._proc.wait()
            if self._closing:
                return
            if time.monotonic() - started >= STABLE_S:
                delay = RESTART_MIN_S
            log.error(
                "worker process %d exited with %s; starting another in %.1f s",
                self._proc.pid,
                code,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX_S)
            await self._spawn()


def read_settings(fd: int) -> Settings:
    """The Settings the parent wrote first on the control pipe."""
    (size,) = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size))
    settings = pickle.loads(_read_exactly(fd, size))  # noqa: S301 - our own parent wrote it
    if not isinstance(settings, Settings):
        raise TypeError("the control pipe did not start with Settings")
    return settings


def _read_exactly(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            raise EOFError("the server closed the control pipe")
        data += chunk
    return data


def watch_control(fd: int, wake: Callable[[], None], stop: Callable[[], None]) -> None:
    """On the running loop: ``wake`` for bytes on the control pipe, ``stop`` at its end."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        if data:
            wake()
        else:
            loop.remove_reader(fd)
            stop()

    loop.add_reader(fd, readable)


def main() -> int:
    # A Ctrl-C reaches the whole process group; the server stops this child in its own time.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        settings = read_settings(0)
    except EOFError:
        return 0  # the server went away before it could say anything
    from smsgate.cli import commands, configure_logging

    configure_logging(settings)
    return commands.worker_child(settings, control_fd=0)
