"""The ``smpp://`` carrier URL, parsed once into a typed SmppConfig.

    smpp://SYSTEM_ID:PASSWORD@HOST:PORT?bind=trx&window=10&throughput=100
    smpps://…                     the same over TLS (or ?tls=true)

Every query option is listed in docs/configuration.md; an unknown one is an error, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final
from urllib.parse import parse_qsl, unquote, urlsplit

from smsgate.connectors.smpp.text import Concat


class SmppConfigError(ValueError):
    """The carrier URL is not a valid SMPP connector configuration."""


@dataclass(frozen=True, slots=True)
class SmppConfig:
    host: str
    port: int
    system_id: str
    password: str
    name: str = "smpp"
    bind: str = "trx"  # "trx" (one transceiver) or "txrx" (a transmitter + receiver pair)
    system_type: str = ""
    source_ton: int = 1  # international, for E.164 numbers
    source_npi: int = 1  # ISDN/E.164
    dest_ton: int = 1
    dest_npi: int = 1
    alphanumeric_ton: int = 5  # alphanumeric senders
    alphanumeric_npi: int = 0
    short_code_ton: int = 3  # network-specific, for short codes
    short_code_npi: int = 0
    window: int = 10  # outstanding requests per bind
    # sessions this system_id may have open at once across every smsgate process (a
    # transceiver counts one, a transmitter+receiver pair two); 0 = no shared limit
    max_binds: int = 0
    throughput: float = 0.0  # submit_sm per second on this connector; 0 = no limit
    enquire_link: float = 30.0  # seconds between keep-alives
    window_stats: float = 60.0  # seconds between "window use" log lines; 0 = none
    response_timeout: float = 10.0  # seconds to wait for any response
    reconnect_min: float = 1.0  # first reconnect delay, doubled after each failure
    reconnect_max: float = 60.0
    receipt_timeout: float = 48 * 3600.0  # a message with no receipt by then is undelivered
    registered_delivery: int = 1  # ask for a final receipt
    concat: Concat = Concat.UDH8
    tls: bool = False
    tls_verify: bool = True
    mms: str = "text"  # "text": media links appended to the body; "reject": fail with 30011


_INT: Final = {
    "source_ton",
    "source_npi",
    "dest_ton",
    "dest_npi",
    "alphanumeric_ton",
    "alphanumeric_npi",
    "short_code_ton",
    "short_code_npi",
    "window",
    "max_binds",
    "registered_delivery",
}
_FLOAT: Final = {
    "throughput",
    "enquire_link",
    "window_stats",
    "response_timeout",
    "reconnect_min",
    "reconnect_max",
    "receipt_timeout",
}
_BOOL: Final = {"tls", "tls_verify"}
_OPTIONS: Final = {f.name for f in fields(SmppConfig)} - {"host", "port", "system_id", "password"}
_TRUE: Final = {"1", "true", "yes", "on"}
_FALSE: Final = {"0", "false", "no", "off"}


def is_smpp_url(value: str) -> bool:
    return value.startswith(("smpp://", "smpps://"))


def parse_url(url: str, *, name: str | None = None) -> SmppConfig:
    """A carrier URL as an SmppConfig. Raises SmppConfigError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("smpp", "smpps"):
        raise SmppConfigError(f"an SMPP carrier URL starts with smpp:// or smpps://, got {url!r}")
    if not parts.hostname:
        raise SmppConfigError("the SMPP carrier URL has no host")
    try:
        port = parts.port or 2775
    except ValueError as exc:
        raise SmppConfigError(f"bad port in the SMPP carrier URL: {exc}") from exc
    values: dict[str, object] = {
        "host": parts.hostname,
        "port": port,
        "system_id": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "tls": parts.scheme == "smpps",
    }
    if name is not None:
        values["name"] = name
    for key, raw in parse_qsl(parts.query, keep_blank_values=True):
        values[key] = _option(key, raw)
    config = SmppConfig(**values)  # type: ignore[arg-type]
    _check(config)
    return config


def _option(key: str, raw: str) -> object:
    if key not in _OPTIONS:
        known = ", ".join(sorted(_OPTIONS))
        raise SmppConfigError(f"unknown SMPP option {key!r} (known: {known})")
    try:
        if key in _INT:
            return int(raw)
        if key in _FLOAT:
            return float(raw)
    except ValueError as exc:
        raise SmppConfigError(f"SMPP option {key}={raw!r} is not a number") from exc
    if key in _BOOL:
        lowered = raw.lower()
        if lowered not in _TRUE | _FALSE:
            raise SmppConfigError(f"SMPP option {key}={raw!r} is not true or false")
        return lowered in _TRUE
    if key == "concat":
        try:
            return Concat(raw)
        except ValueError as exc:
            choices = ", ".join(c.value for c in Concat)
            raise SmppConfigError(f"SMPP option concat must be one of {choices}") from exc
    return raw


def _check(config: SmppConfig) -> None:
    if config.mms not in ("text", "reject"):
        raise SmppConfigError("SMPP option mms must be text or reject")
    if config.bind not in ("trx", "txrx"):
        raise SmppConfigError("SMPP option bind must be trx or txrx")
    if not config.system_id:
        raise SmppConfigError("the SMPP carrier URL has no system id (smpp://SYSTEM_ID:…@…)")
    if config.max_binds < 0:
        raise SmppConfigError("SMPP option max_binds must be 0 (no shared limit) or positive")
    if config.window < 1:
        raise SmppConfigError("SMPP option window must be at least 1")
    for key in ("enquire_link", "response_timeout", "reconnect_min", "receipt_timeout"):
        if getattr(config, key) <= 0:
            raise SmppConfigError(f"SMPP option {key} must be positive")
    if config.window_stats < 0:
        raise SmppConfigError("SMPP option window_stats must be 0 (no log) or positive")
    if config.throughput < 0:
        raise SmppConfigError("SMPP option throughput must be 0 (no limit) or positive")
    if config.reconnect_max < config.reconnect_min:
        raise SmppConfigError("SMPP option reconnect_max must be at least reconnect_min")
