"""Messaging Services ⇄ rows, and the SQL every SQL backend shares for them (see rows.py)."""

from __future__ import annotations

from typing import Any

import orjson

from smsgate.domain.dates import from_us, to_us
from smsgate.domain.pools import MessagingService, PoolNumber
from smsgate.store.rows import NUMBER_COLS, Row

SERVICE_COLS = (
    "sid, account_sid, friendly_name, inbound_request_url, inbound_method, fallback_url, "
    "fallback_method, status_callback, sticky_sender, smart_encoding, validity_period, "
    "use_inbound_webhook_on_number, extra, date_created, date_updated"
)
_names = [c.strip() for c in SERVICE_COLS.split(",")]
INSERT_SERVICE = (
    f"INSERT INTO messaging_services ({SERVICE_COLS}) VALUES ({', '.join(':' + n for n in _names)})"
)
UPDATE_SERVICE = (
    "UPDATE messaging_services SET "
    + ", ".join(f"{n} = :{n}" for n in _names if n not in ("sid", "account_sid"))
    + " WHERE sid = :sid AND account_sid = :account_sid"
)
SELECT_SERVICE = f"SELECT {SERVICE_COLS} FROM messaging_services"

# A pool row counts only while its number still belongs to the service's account (a number
# moved to another account leaves every pool of the old one).
POOL_FROM = (
    "FROM service_numbers s JOIN phone_numbers p "
    "ON p.sid = s.number_sid AND p.account_sid = s.account_sid"
)
SELECT_POOL_NUMBER = (
    "SELECT s.service_sid, s.account_sid, s.number_sid, p.phone_number, s.date_created, "
    f"s.date_updated {POOL_FROM}"
)
SELECT_POOL_SENDERS = (
    "SELECT " + ", ".join("p." + c.strip() for c in NUMBER_COLS.split(",")) + f" {POOL_FROM} "
    "WHERE s.service_sid = ? ORDER BY s.date_created, s.number_sid"
)
SELECT_SERVICE_OF_NUMBER = (
    "SELECT " + ", ".join("m." + n for n in _names) + " FROM service_numbers s "
    "JOIN messaging_services m ON m.sid = s.service_sid "
    "JOIN phone_numbers p ON p.sid = s.number_sid AND p.account_sid = s.account_sid "
    "WHERE s.number_sid = ?"
)


def service_params(s: MessagingService) -> dict[str, Any]:
    return {
        "sid": s.sid,
        "account_sid": s.account_sid,
        "friendly_name": s.friendly_name,
        "inbound_request_url": s.inbound_request_url,
        "inbound_method": s.inbound_method,
        "fallback_url": s.fallback_url,
        "fallback_method": s.fallback_method,
        "status_callback": s.status_callback,
        "sticky_sender": s.sticky_sender,
        "smart_encoding": s.smart_encoding,
        "validity_period": s.validity_period,
        "use_inbound_webhook_on_number": s.use_inbound_webhook_on_number,
        "extra": orjson.dumps(s.extra).decode(),
        "date_created": to_us(s.date_created),
        "date_updated": to_us(s.date_updated),
    }


def service_from(r: Row) -> MessagingService:
    return MessagingService(
        sid=r[0],
        account_sid=r[1],
        friendly_name=r[2],
        inbound_request_url=r[3],
        inbound_method=r[4],
        fallback_url=r[5],
        fallback_method=r[6],
        status_callback=r[7],
        sticky_sender=bool(r[8]),
        smart_encoding=bool(r[9]),
        validity_period=r[10],
        use_inbound_webhook_on_number=bool(r[11]),
        extra=orjson.loads(r[12]),
        date_created=from_us(r[13]),
        date_updated=from_us(r[14]),
    )


def pool_number_from(r: Row) -> PoolNumber:
    return PoolNumber(r[0], r[1], r[2], r[3], from_us(r[4]), from_us(r[5]))
