"""The ``smsgate`` command: the composition root, and the only place that picks backends."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from smsgate import __version__
from smsgate.config import ConfigError, Settings, help_of, load_settings, setting_names
from smsgate.store.base import StoreError

from . import commands

STORE_OPTIONS = (
    "data_dir",
    "database_url",
    "db_pool_size",
    "db_pool_timeout",
    "migrate",
    "log_level",
)
WORKER_OPTIONS = (
    *STORE_OPTIONS,
    "carrier",
    "config",
    "sender_mps",
    "simulator_delay",
    "webhook_retries",
    "webhook_timeout",
    "lease_seconds",
    "prices",
    "media_timeout",
)
INBOUND_OPTIONS = (
    *STORE_OPTIONS,
    "carrier",
    "config",
    "sender_mps",
    "help_reply",
    "stop_reply",
    "start_reply",
    "media_timeout",
    "public_url",
)


def _add_settings(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    defaults = Settings()
    for name in names:
        flag = "--" + name.replace("_", "-")
        default = getattr(defaults, name)
        env = "SMSGATE_" + name.upper()
        help_text = f"{help_of(name)} (env {env}; default {default})"
        if isinstance(default, bool):
            parser.add_argument(
                flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        else:
            parser.add_argument(flag, dest=name, default=None, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smsgate", description="A self-hosted SMS gateway that speaks Twilio's API."
    )
    parser.add_argument("--version", action="version", version=f"smsgate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="Run the API server (SQLite in the data dir).")
    _add_settings(serve, setting_names())
    serve.set_defaults(run=commands.serve)

    worker = sub.add_parser("worker", help="Run only the delivery worker and webhook sender.")
    _add_settings(worker, WORKER_OPTIONS)
    worker.set_defaults(run=commands.worker)

    accounts = sub.add_parser("accounts", help="Manage accounts.").add_subparsers(
        dest="action", required=True
    )
    create = accounts.add_parser("create", help="Create a main account; prints it as JSON.")
    _add_settings(create, STORE_OPTIONS)
    create.add_argument("--friendly-name", default=None)
    create.set_defaults(run=commands.accounts_create)
    listing = accounts.add_parser("list", help="Print every account as JSON, one per line.")
    _add_settings(listing, STORE_OPTIONS)
    listing.set_defaults(run=commands.accounts_list)

    simulate = sub.add_parser(
        "simulate", help="Make the simulator carrier do something."
    ).add_subparsers(dest="action", required=True)
    inbound = simulate.add_parser(
        "inbound",
        help="Receive a message as if a phone sent it to one of your numbers; prints it as JSON.",
    )
    _add_settings(inbound, INBOUND_OPTIONS)
    inbound.add_argument(
        "--from", dest="from_", required=True, metavar="NUMBER", help="The sending phone."
    )
    inbound.add_argument("--to", required=True, help="One of your numbers (IncomingPhoneNumber).")
    inbound.add_argument("--body", default="", help="The text of the message.")
    inbound.add_argument(
        "--media-url", action="append", default=[], help="A media URL (repeat for several)."
    )
    inbound.set_defaults(run=commands.simulate_inbound)

    _add_smsc_sim(sub)

    db = sub.add_parser("db", help="Inspect or migrate the database schema.").add_subparsers(
        dest="action", required=True
    )
    upgrade = db.add_parser("upgrade", help="Apply pending migrations.")
    _add_settings(upgrade, STORE_OPTIONS)
    upgrade.set_defaults(run=commands.db_upgrade)
    check = db.add_parser("check", help="Exit 0 if the schema is current, 1 if not.")
    _add_settings(check, STORE_OPTIONS)
    check.set_defaults(run=commands.db_check)
    return parser


def _add_smsc_sim(sub: Any) -> None:
    from smsgate.smsc.behaviour import knobs

    sim = sub.add_parser(
        "smsc-sim",
        help="Run a simulated SMPP 3.4 SMSC to exercise the SMPP connector (docs/smsc-sim.md).",
    )
    sim.add_argument("--host", dest="smsc_host", default="127.0.0.1", help="Address to listen on.")
    sim.add_argument(
        "--port", dest="smsc_port", type=int, default=2775, help="SMPP port (0: any free one)."
    )
    sim.add_argument(
        "--control-port", type=int, default=8775, help="Control API port (0: any free one)."
    )
    sim.add_argument("--system-id", default=None, help="Accept only this system_id (default: any).")
    sim.add_argument("--password", default=None, help="Accept only this password (default: any).")
    _add_settings(sim, ("log_level",))
    for knob in knobs():
        flag = "--" + knob.name.replace("_", "-")
        help_text = str(knob.metadata["help"])
        if knob.metadata["choices"]:
            help_text += f" ({', '.join(knob.metadata['choices'])})"
        if isinstance(knob.default, bool):
            sim.add_argument(
                flag, dest="knob_" + knob.name, action=argparse.BooleanOptionalAction,
                default=None, help=help_text,
            )  # fmt: skip
        else:
            sim.add_argument(flag, dest="knob_" + knob.name, default=None, help=help_text)
    sim.set_defaults(run=commands.smsc_sim)


def configure_logging(settings: Settings) -> None:
    """Log to stderr at the configured level (every smsgate process, children too)."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli: dict[str, Any] = {n: getattr(args, n, None) for n in setting_names()}
    try:
        settings, warnings = load_settings(cli, os.environ)
    except ConfigError as exc:
        print(f"smsgate: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    log = logging.getLogger("smsgate")
    for warning in warnings:
        log.warning(warning)
    try:
        code: int = args.run(settings, args)
    except (commands.CommandError, ConfigError, StoreError) as exc:
        print(f"smsgate: {exc}", file=sys.stderr)
        return 2
    return code
