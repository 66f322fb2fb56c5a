"""Settings: read once, at the edge (the CLI), into one typed, frozen object.

Every setting is a command-line option ``--data-dir`` and an environment variable
``SMSGATE_DATA_DIR``; the command line wins over the environment, which wins over the
default. Unknown ``SMSGATE_*`` variables are reported as warnings, never errors, so an
environment written for a newer smsgate still starts an older one.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from smsgate.domain.optout import DEFAULT_HELP_REPLY, DEFAULT_START_REPLY, DEFAULT_STOP_REPLY

ENV_PREFIX = "SMSGATE_"


class ConfigError(ValueError):
    """A setting has a value of the wrong type or out of range."""


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = _opt("127.0.0.1", "Address to listen on.")
    port: int = _opt(8080, "TCP port to listen on.")
    data_dir: Path = _opt(Path("data"), "Directory for the SQLite database and other state.")  # noqa: RUF009
    database_url: str | None = _opt(
        None,
        "Database URL: sqlite:///PATH or postgresql://USER@HOST:PORT/DB; default: the SQLite "
        "file smsgate.db in the data dir.",
    )
    db_pool_size: int = _opt(8, "PostgreSQL connections per process (and threads using them).")
    db_pool_timeout: float = _opt(
        5.0, "Seconds to wait for a PostgreSQL connection before answering 503."
    )
    migrate: bool = _opt(
        True, "Upgrade a PostgreSQL schema on start (else refuse an old one); SQLite always does."
    )
    workers: int = _opt(1, "API processes sharing the port (PostgreSQL only above 1).")
    log_level: str = _opt("info", "Logging level: debug, info, warning or error.")
    bootstrap: bool = _opt(
        True, "On an empty store, create a main account and a test number and print them."
    )
    max_body_bytes: int = _opt(1_048_576, "Largest request body accepted (413 above it).")
    worker: bool = _opt(True, "Run the delivery worker and webhook sender inside serve.")
    worker_process: bool = _opt(
        False,
        "Run serve's worker and webhook sender in a child process (uses a second core).",
    )
    carrier: str = _opt(
        "simulator",
        "The carrier messages go to: simulator, or an smpp:// (smpps://) URL; see SMPP below.",
    )
    config: Path | None = _opt(  # noqa: RUF009
        None, "A TOML file of several carriers and routing rules; overrides --carrier."
    )
    sender_mps: float | None = _opt(
        None, "Segments per second for every sender (0 = unlimited); default: Twilio's classes."
    )
    simulator_delay: float = _opt(0.5, "Seconds before the simulator reports delivery.")
    webhook_retries: int = _opt(1, "Default retries of a failed webhook (URL #rc= overrides).")
    webhook_timeout: float = _opt(15.0, "Default total seconds a webhook may take (#tt=).")
    prices: str = _opt(
        "+1=0.0079,*=0.0500",
        "USD per segment by destination prefix; the longest prefix wins, * is the default.",
    )
    lease_seconds: float = _opt(
        30.0, "Seconds a worker holds a claimed message or callback before others may retry it."
    )
    help_reply: str = _opt(
        DEFAULT_HELP_REPLY, "Automatic answer to HELP or INFO (empty: no answer)."
    )
    stop_reply: str = _opt(
        DEFAULT_STOP_REPLY, "Automatic answer to an opt-out keyword such as STOP (empty: none)."
    )
    start_reply: str = _opt(
        DEFAULT_START_REPLY, "Automatic answer to START, YES or UNSTOP (empty: no answer)."
    )
    media_timeout: float = _opt(
        10.0, "Seconds all MediaUrls of one message may take to fetch (at most half the lease)."
    )
    public_url: str | None = _opt(
        None, "This server's URL as others reach it, for media links; default http://HOST:PORT."
    )
    console_secret: str | None = _opt(
        None,
        "Key signing web console sessions; default: a random key kept in DATA_DIR/console.key. "
        "Processes serving one database from different data dirs need the same key.",
    )
    min_schedule_lead: float = _opt(
        900.0, "Seconds a scheduled message's SendAt must lie ahead at least (35114 below it)."
    )

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0-65535, got {self.port}")
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise ConfigError(f"log_level must be debug, info, warning or error: {self.log_level}")
        if self.max_body_bytes < 1024:
            raise ConfigError("max_body_bytes must be at least 1024")
        if self.carrier != "simulator" and not self.carrier.startswith(("smpp://", "smpps://")):
            raise ConfigError(
                f"carrier must be 'simulator' or an smpp:// URL, got {self.carrier!r}"
            )
        if self.sender_mps is not None and self.sender_mps < 0:
            raise ConfigError("sender_mps must be 0 (unlimited) or more")
        if not 0 <= self.webhook_retries <= 5:
            raise ConfigError("webhook_retries must be from 0 to 5")
        if not 0.1 <= self.webhook_timeout <= 15:
            raise ConfigError("webhook_timeout must be from 0.1 to 15 seconds")
        if self.lease_seconds < 1:
            raise ConfigError("lease_seconds must be at least 1")
        if not 0 <= self.min_schedule_lead <= 35 * 24 * 3600:
            raise ConfigError("min_schedule_lead must be from 0 to 3024000 seconds (35 days)")
        if not 0.1 <= self.media_timeout <= 300:
            raise ConfigError("media_timeout must be from 0.1 to 300 seconds")
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise ConfigError(f"public_url must be an http(s) URL, got {self.public_url!r}")
        if not 1 <= self.db_pool_size <= 100:
            raise ConfigError("db_pool_size must be from 1 to 100")
        if not 0.1 <= self.db_pool_timeout <= 300:
            raise ConfigError("db_pool_timeout must be from 0.1 to 300 seconds")
        if not 1 <= self.workers <= 64:
            raise ConfigError("workers must be from 1 to 64")
        if self.console_secret is not None and len(self.console_secret) < 16:
            raise ConfigError("console_secret must be at least 16 characters")
        if self.simulator_delay < 0:
            raise ConfigError("simulator_delay must not be negative")

    @property
    def media_base_url(self) -> str:
        """The base of the URLs that point at stored media (``public_url``, else ours)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file to use, or None when the database URL names another backend."""
        url = self.database_url
        if url is None:
            return self.data_dir / "smsgate.db"
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        return None

    @property
    def postgres_url(self) -> str | None:
        """The PostgreSQL database to use, or None when the store is SQLite."""
        url = self.database_url
        if url is not None and url.startswith(("postgresql://", "postgres://", "postgresql+")):
            return url
        return None


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]


def help_of(name: str) -> str:
    return str(next(f for f in fields(Settings) if f.name == name).metadata["help"])


def load_settings(cli: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[Settings, list[str]]:
    """Merge command-line values (None = not given), the environment and the defaults.

    Returns the settings and a list of warnings (unknown SMSGATE_* variables).
    """
    hints = typing.get_type_hints(Settings)
    known = {ENV_PREFIX + name.upper() for name in hints}
    warnings = [
        f"ignoring unknown environment variable {key}"
        for key in sorted(environ)
        if key.startswith(ENV_PREFIX) and key not in known
    ]
    values: dict[str, Any] = {}
    for name, hint in hints.items():
        raw = cli.get(name)
        source = f"--{name.replace('_', '-')}"
        if raw is None and (ENV_PREFIX + name.upper()) in environ:
            raw = environ[ENV_PREFIX + name.upper()]
            source = ENV_PREFIX + name.upper()
        if raw is not None:
            values[name] = _cast(raw, hint, source)
    try:
        return Settings(**values), warnings
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc


def _cast(raw: Any, hint: Any, source: str) -> Any:
    target = _unoptional(hint)
    if not isinstance(raw, str):
        return raw if target is not Path else Path(raw)
    if target is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{source} must be true or false, got {raw!r}")
    if target is int or target is float:
        try:
            return target(raw)
        except ValueError:
            kind = "an integer" if target is int else "a number"
            raise ConfigError(f"{source} must be {kind}, got {raw!r}") from None
    if target is Path:
        return Path(raw)
    if hint is not target and raw == "":
        return None
    return raw


def _unoptional(hint: Any) -> Any:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0]
    return hint
