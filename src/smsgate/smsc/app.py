"""Run the simulated SMSC: the SMPP listener and the control API on one event loop."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from dataclasses import dataclass

import orjson
import uvicorn

from smsgate.clock import SystemClock

from .behaviour import Behaviour
from .control import create_app
from .core import Smsc

log = logging.getLogger("smsgate.smsc")


@dataclass(frozen=True, slots=True)
class SimOptions:
    host: str = "127.0.0.1"
    port: int = 2775
    control_port: int = 8775
    system_id: str | None = None
    password: str | None = None
    log_level: str = "info"


async def run(options: SimOptions, behaviour: Behaviour) -> int:
    """Serve until SIGTERM/SIGINT. Port 0 picks a free port; the ports in use are printed
    as one JSON line on stdout once both listeners are bound."""
    smsc = Smsc(behaviour, SystemClock(), system_id=options.system_id, password=options.password)
    smpp = await asyncio.start_server(smsc.serve, options.host, options.port)
    smpp_port = int(smpp.sockets[0].getsockname()[1])
    control = socket.create_server((options.host, options.control_port))
    control_port = int(control.getsockname()[1])
    config = uvicorn.Config(
        create_app(smsc, smpp_port),
        log_level=options.log_level.lower(),
        access_log=False,
        lifespan="off",
        server_header=False,
    )
    server = uvicorn.Server(config)
    announce = {
        "implementation": "sim",
        "host": options.host,
        "smpp_port": smpp_port,
        "control_port": control_port,
    }
    sys.stdout.buffer.write(orjson.dumps(announce) + b"\n")
    sys.stdout.flush()
    log.info(
        "SMPP on %s:%d, control API on http://%s:%d",
        *(options.host, smpp_port, options.host, control_port),
    )
    try:
        await server.serve(sockets=[control])
    finally:
        smpp.close()
        smsc.drop()
        await smpp.wait_closed()
    return 0
