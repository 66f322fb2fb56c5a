"""Building the carrier from settings: the simulator, one SMPP URL, or a TOML file of
several carriers with routing rules (``--config``, docs/configuration.md):

    [carriers.primary]
    url = "smpp://user:secret@smsc1.example:2775?window=20&throughput=100"

    [carriers.backup]
    url = "smpps://user:secret@smsc2.example:3550"

    [[routes]]
    prefix = "+44"                       # longest prefix wins
    carriers = ["backup", "primary"]     # in order: the next is used while one is down

    [[routes]]
    prefix = ""                          # everything else
    carriers = ["primary", "backup"]
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from smsgate.clock import Clock
from smsgate.config import ConfigError, Settings
from smsgate.connectors import simulator
from smsgate.connectors.base import BindGate, Connector
from smsgate.connectors.routing import Route, RoutingConnector
from smsgate.connectors.smpp.config import SmppConfigError, parse_url
from smsgate.connectors.smpp.connector import SmppConnector


def build_connector(settings: Settings, clock: Clock, gate: BindGate | None = None) -> Connector:
    """``gate`` shares each SMPP carrier's ``max_binds`` among processes."""
    if settings.config is not None:
        return _from_file(settings.config, settings, clock, gate)
    return _one(settings.carrier, "smpp", settings, clock, gate, source="--carrier")


def uses_simulator(settings: Settings) -> bool:
    """Whether the simulator's create-time magic numbers apply (the default carrier)."""
    return settings.config is None and settings.carrier == "simulator"


def _one(
    url: str,
    name: str,
    settings: Settings,
    clock: Clock,
    gate: BindGate | None,
    *,
    source: str,
) -> Connector:
    if url == "simulator":
        return simulator.SimulatorConnector(
            simulator.SimulatorConfig(delivery_delay=settings.simulator_delay), clock
        )
    try:
        return SmppConnector(parse_url(url, name=name), gate)
    except SmppConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def _from_file(path: Path, settings: Settings, clock: Clock, gate: BindGate | None) -> Connector:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config: {path} is not valid TOML: {exc}") from exc
    carriers_table = document.get("carriers")
    if not isinstance(carriers_table, dict) or not carriers_table:
        raise ConfigError(f"--config: {path} defines no [carriers.NAME] tables")
    carriers: dict[str, Connector] = {}
    for name, table in carriers_table.items():
        url = table.get("url") if isinstance(table, dict) else None
        if not isinstance(url, str):
            raise ConfigError(f"--config: carrier {name!r} needs a url")
        carriers[name] = _one(url, name, settings, clock, gate, source=f"--config carrier {name!r}")
    routes = [_route(entry, path) for entry in document.get("routes", [])]
    if not routes:
        routes = [Route("", tuple(carriers))]
    try:
        return RoutingConnector(carriers, routes)
    except ValueError as exc:
        raise ConfigError(f"--config: {exc}") from exc


def _route(entry: Any, path: Path) -> Route:
    if not isinstance(entry, dict):
        raise ConfigError(f"--config: each [[routes]] entry in {path} must be a table")
    prefix = entry.get("prefix", "")
    names = entry.get("carriers")
    if not isinstance(prefix, str) or not isinstance(names, list) or not names:
        raise ConfigError(f"--config: a route needs a prefix and a list of carriers: {entry}")
    return Route(prefix, tuple(str(name) for name in names))
