"""A blocking, hand-driven ESME for testing the SMSC peers themselves.

Not our connector: every PDU is sent when the test says, and a deliver_sm is answered only
when the test answers it, so the peers' re-send and window behaviour can be observed. PDUs
go through smpplib's codec (``smsgate.smpp.pdu``); the Node peer decodes them with npm
smpp's, so against it both directions cross two independent codecs.
"""

from __future__ import annotations

import socket
import struct
import time
from collections import deque
from typing import Any

from smsgate.smpp.pdu import Pdu, decode, encode


class Esme:
    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.sequence = 0
        self.inbox: deque[Pdu] = deque()  # PDUs read while waiting for something else

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Esme:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- wire -------------------------------------------------------------------------------

    def send(
        self, command: str, status: int = 0, sequence: int | None = None, **fields: Any
    ) -> int:
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        self.sock.sendall(encode(command, sequence, status, **fields))
        return sequence

    def _read_exactly(self, n: int, deadline: float) -> bytes:
        data = b""
        while len(data) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed by the SMSC")
            data += chunk
        return data

    def read_socket(self, timeout: float) -> Pdu:
        deadline = time.monotonic() + timeout
        head = self._read_exactly(4, deadline)
        (length,) = struct.unpack(">L", head)
        return decode(head + self._read_exactly(length - 4, deadline))

    def read(self, timeout: float | None = None) -> Pdu:
        """The next PDU from the inbox or the socket (TimeoutError when none comes)."""
        if self.inbox:
            return self.inbox.popleft()
        return self.read_socket(self.timeout if timeout is None else timeout)

    def expect(
        self, command: str, timeout: float | None = None, sequence: int | None = None
    ) -> Pdu:
        """Read until a PDU of ``command`` (and ``sequence``) arrives; others wait in the inbox."""
        for pdu in list(self.inbox):
            if pdu.command == command and sequence in (None, pdu.sequence):
                self.inbox.remove(pdu)
                return pdu
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        held: list[Pdu] = []
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {command} within the timeout")
                pdu = self.read_socket(remaining)
                if pdu.command == command and sequence in (None, pdu.sequence):
                    return pdu
                held.append(pdu)
        finally:
            self.inbox.extend(held)

    def closed_by_peer(self, timeout: float = 5.0) -> bool:
        """True once the SMSC has closed the socket (PDUs read meanwhile go to the inbox)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.inbox.append(self.read_socket(deadline - time.monotonic()))
            except (ConnectionError, OSError) as exc:
                return not isinstance(exc, TimeoutError)
        return False

    # -- operations ---------------------------------------------------------------------------

    def request(self, command: str, **fields: Any) -> Pdu:
        sequence = self.send(command, **fields)
        return self.expect(command + "_resp", sequence=sequence)

    def bind(self, kind: str = "transceiver", system_id: str = "", password: str = "") -> int:
        resp = self.request(
            f"bind_{kind}", system_id=system_id, password=password, interface_version=0x34
        )
        return resp.status

    def submit(
        self, destination: str, short_message: bytes, *, registered_delivery: int = 1, **fields: Any
    ) -> int:
        """Send a submit_sm without waiting; returns its sequence."""
        defaults: dict[str, Any] = {
            "source_addr_ton": 1,
            "source_addr_npi": 1,
            "source_addr": "15005550006",
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": destination,
            "registered_delivery": registered_delivery,
            "short_message": short_message,
        }
        return self.send("submit_sm", **{**defaults, **fields})

    def ack(self, pdu: Pdu, status: int = 0) -> None:
        self.send(pdu.command + "_resp", status, sequence=pdu.sequence, message_id="")
