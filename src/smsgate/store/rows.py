"""Entity ⇄ row mapping and the SQL that every SQL backend shares.

Queries use named parameters (``:name``); an adapter whose driver wants another paramstyle
translates them once. Column lists are spelled out once here so adapters cannot drift.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import orjson

from smsgate.domain.accounts import Account, AccountStatus, ApiKey
from smsgate.domain.dates import from_us, to_us
from smsgate.domain.dialects import MessageSearch
from smsgate.domain.messages import Direction, Message, Status
from smsgate.domain.numbers import PhoneNumber
from smsgate.domain.paging import Page, PageRequest
from smsgate.store.base import MessageFilter

T = TypeVar("T")

Row = Sequence[Any]

ACCOUNT_COLS = (
    "sid, owner_account_sid, friendly_name, auth_token, status, date_created, date_updated"
)
KEY_COLS = "sid, account_sid, friendly_name, secret_hash, date_created, date_updated"
NUMBER_COLS = (
    "sid, account_sid, phone_number, friendly_name, sms_url, sms_method, sms_fallback_url, "
    "sms_fallback_method, status_callback, status_callback_method, number_type, extra, "
    "date_created, date_updated"
)
MESSAGE_COLS = (
    "sid, account_sid, to_number, from_number, body, status, direction, num_segments, "
    "num_media, date_created, date_updated, date_sent, list_key, messaging_service_sid, price, "
    "price_unit, error_code, error_message, status_callback, validity_period, send_at, "
    "encoding, media_urls, options"
)


def _placeholders(cols: str) -> str:
    return ", ".join(":" + c.strip() for c in cols.split(","))


def _assignments(cols: str, skip: tuple[str, ...] = ("sid",)) -> str:
    names = [c.strip() for c in cols.split(",")]
    return ", ".join(f"{n} = :{n}" for n in names if n not in skip)


INSERT_ACCOUNT = f"INSERT INTO accounts ({ACCOUNT_COLS}) VALUES ({_placeholders(ACCOUNT_COLS)})"
UPDATE_ACCOUNT = f"UPDATE accounts SET {_assignments(ACCOUNT_COLS)} WHERE sid = :sid"
INSERT_KEY = f"INSERT INTO api_keys ({KEY_COLS}) VALUES ({_placeholders(KEY_COLS)})"
UPDATE_KEY = f"UPDATE api_keys SET {_assignments(KEY_COLS)} WHERE sid = :sid"
INSERT_NUMBER = f"INSERT INTO phone_numbers ({NUMBER_COLS}) VALUES ({_placeholders(NUMBER_COLS)})"
UPDATE_NUMBER = f"UPDATE phone_numbers SET {_assignments(NUMBER_COLS)} WHERE sid = :sid"
MESSAGE_NAMES = tuple(c.strip() for c in MESSAGE_COLS.split(","))
INSERT_MESSAGE = f"INSERT INTO messages ({MESSAGE_COLS}) VALUES ({_placeholders(MESSAGE_COLS)})"
# The head of a multi-row INSERT; values_sql() adds the rows.
INSERT_MESSAGES = f"INSERT INTO messages ({MESSAGE_COLS}) VALUES "
UPDATE_MESSAGE = f"UPDATE messages SET {_assignments(MESSAGE_COLS)} WHERE sid = :sid"


MESSAGE_BOUNDARY = (
    "SELECT list_key FROM messages WHERE sid = :sid AND account_sid = :a "
    "UNION ALL "
    "SELECT list_key FROM message_tombstones WHERE sid = :sid AND account_sid = :a "
    "LIMIT 1"
)
INSERT_TOMBSTONE = (
    "INSERT INTO message_tombstones (sid, account_sid, list_key, date_deleted) VALUES (?, ?, ?, ?)"
)


@functools.lru_cache(maxsize=256)
def values_sql(head: str, width: int, rows: int) -> str:
    """``head`` followed by ``rows`` groups of ``width`` positional placeholders."""
    one = "(" + ", ".join("?" * width) + ")"
    return head + ", ".join([one] * rows)


@dataclass(frozen=True, slots=True)
class KeyRange:
    """A range on a list's first sort key, ``lo <= key < hi``; either side may be open."""

    lo: Any = None
    hi: Any = None


def message_filter(
    account_sid: str, flt: MessageFilter
) -> tuple[list[str], dict[str, Any], KeyRange | None]:
    """WHERE clauses for a message list, and the date filters as a range on ``list_key``.

    The range is returned apart so that page_query can fold it together with the page
    boundary into one bound per side (see there).
    """
    where = ["account_sid = :a"]
    params: dict[str, Any] = {"a": account_sid}
    if flt.to is not None:
        where.append("to_number = :to")
        params["to"] = flt.to
    if flt.from_ is not None:
        where.append("from_number = :from_")
        params["from_"] = flt.from_
    if flt.direction is not None:
        where.append("direction = :direction")
        params["direction"] = flt.direction
    if flt.status is not None:
        where.append("status = :status")
        params["status"] = flt.status
    if flt.number is not None:  # list pages use number_page_query: two seeks, merged
        where.append("(to_number = :number OR from_number = :number)")
        params["number"] = flt.number
    if flt.body_contains:
        where.append("lower(body) LIKE :body_like ESCAPE '\\'")
        params["body_like"] = "%" + escape_like(flt.body_contains.lower()) + "%"
    dates = flt.date_sent
    if dates.after is None and dates.before is None:
        return where, params, None
    # Unsent messages have negative list keys, so any date filter excludes them.
    lo = max(0, to_us(dates.after)) if dates.after is not None else 0
    hi = to_us(dates.before) if dates.before is not None else None
    return where, params, KeyRange(lo, hi)


def number_page_query(
    account_sid: str, flt: MessageFilter, page: PageRequest, boundary: Sequence[Any] | None
) -> tuple[str, dict[str, Any], bool]:
    """A page of messages with ``flt.number`` on either side, as page_query returns it.

    ``to_number = n OR from_number = n`` can only be read along the account's list index,
    testing every row, which walks ~1,000 rows per match for a number with one message in
    a thousand. Instead each side is one page-sized seek of its own index in list order
    (``messages_account_to``, ``messages_account_from``; a message to itself counted on
    the ``To`` side only) and the two pages are merged: at most 2 x (page size + 1) rows.
    """
    where, params, key_range = message_filter(account_sid, replace(flt, number=None))
    params["number"] = flt.number
    select = f"SELECT {MESSAGE_COLS} FROM messages"
    keys = ("list_key", "sid")
    arms: list[str] = []
    args: dict[str, Any] = {}
    reverse = False
    sides = ("to_number = :number", "from_number = :number AND to_number <> :number")
    for side in sides:
        sql, arm_args, reverse = page_query(
            select, [*where, side], params, keys,
            descending=True, page=page, boundary=boundary, key_range=key_range,
        )  # fmt: skip
        arms.append(sql)
        args.update(arm_args)  # both arms bind the same names to the same values
    order = "ASC" if reverse else "DESC"
    sql = (
        f"SELECT * FROM ({arms[0]}) AS by_to UNION ALL SELECT * FROM ({arms[1]}) AS by_from "
        f"ORDER BY list_key {order}, sid {order} LIMIT :limit"
    )
    return sql, args, reverse


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern whose escape character is a backslash."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# The console's live feed: rows changed after a (date_updated, sid) position, in that order.
# Written as OR rather than a row-value comparison so every planner seeks the index with it.
UPDATED_SINCE = (
    f"SELECT {MESSAGE_COLS} FROM messages WHERE account_sid = :a "
    "AND (date_updated > :t OR (date_updated = :t AND sid > :s)) "
    "ORDER BY date_updated, sid LIMIT :limit"
)


CARRIER_PARTS = (
    "SELECT carrier_id, part, parts, state, created_at FROM carrier_refs "
    "WHERE message_sid = :m ORDER BY part, created_at, carrier_id"
)


def count_query(account_sid: str, flt: MessageFilter) -> tuple[str, dict[str, Any]]:
    """How many messages a list filter matches (the legacy list's ``total``)."""
    where, params, key_range = message_filter(account_sid, flt)
    if key_range is not None:
        where.append("list_key >= :key_lo")
        params["key_lo"] = key_range.lo
        if key_range.hi is not None:
            where.append("list_key < :key_hi")
            params["key_hi"] = key_range.hi
    return f"SELECT count(*) FROM messages WHERE {' AND '.join(where)}", params


def search_query(account_sid: str, search: MessageSearch) -> tuple[str, dict[str, Any]]:
    """A v2 search: one range scan of ``messages_account_created``, oldest first.

    The index is ``(account_sid, date_created, sid, status, direction,
    messaging_service_sid)``: the window is the seek, the order is the index's, and the
    status, direction and service filters are read from the index entry, so only the rows
    returned are read from the table (tests/integration/test_query_plans.py).
    """
    where = ["account_sid = :a", "date_created >= :lo", "date_created < :hi"]
    params: dict[str, Any] = {
        "a": account_sid,
        "lo": search.created_from_us,
        "hi": search.created_to_us,
        "limit": search.limit,
        "skip": search.skip,
    }
    if search.service_sid is not None:
        where.append("messaging_service_sid = :svc")
        params["svc"] = search.service_sid
    for column, values in (("status", search.statuses), ("direction", search.directions)):
        if values is None:
            continue
        names = []
        for i, value in enumerate(sorted(v.value for v in values)):
            names.append(f":{column}{i}")
            params[f"{column}{i}"] = value
        where.append(f"{column} IN ({', '.join(names)})")
    sql = (
        f"SELECT {MESSAGE_COLS} FROM messages WHERE {' AND '.join(where)} "
        "ORDER BY date_created, sid LIMIT :limit OFFSET :skip"
    )
    return sql, params


def account_params(a: Account) -> dict[str, Any]:
    return {
        "sid": a.sid,
        "owner_account_sid": a.owner_account_sid,
        "friendly_name": a.friendly_name,
        "auth_token": a.auth_token,
        "status": a.status.value,
        "date_created": to_us(a.date_created),
        "date_updated": to_us(a.date_updated),
    }


def account_from(r: Row) -> Account:
    return Account(r[0], r[1], r[2], r[3], AccountStatus(r[4]), from_us(r[5]), from_us(r[6]))


def key_params(k: ApiKey) -> dict[str, Any]:
    return {
        "sid": k.sid,
        "account_sid": k.account_sid,
        "friendly_name": k.friendly_name,
        "secret_hash": k.secret_hash,
        "date_created": to_us(k.date_created),
        "date_updated": to_us(k.date_updated),
    }


def key_from(r: Row) -> ApiKey:
    return ApiKey(r[0], r[1], r[2], r[3], from_us(r[4]), from_us(r[5]))


def number_params(n: PhoneNumber) -> dict[str, Any]:
    return {
        "sid": n.sid,
        "account_sid": n.account_sid,
        "phone_number": n.phone_number,
        "friendly_name": n.friendly_name,
        "sms_url": n.sms_url,
        "sms_method": n.sms_method,
        "sms_fallback_url": n.sms_fallback_url,
        "sms_fallback_method": n.sms_fallback_method,
        "status_callback": n.status_callback,
        "status_callback_method": n.status_callback_method,
        "number_type": n.number_type,
        "extra": orjson.dumps(n.extra).decode(),
        "date_created": to_us(n.date_created),
        "date_updated": to_us(n.date_updated),
    }


def number_from(r: Row) -> PhoneNumber:
    return PhoneNumber(
        sid=r[0],
        account_sid=r[1],
        phone_number=r[2],
        friendly_name=r[3],
        sms_url=r[4],
        sms_method=r[5],
        sms_fallback_url=r[6],
        sms_fallback_method=r[7],
        status_callback=r[8],
        status_callback_method=r[9],
        number_type=r[10],
        extra=orjson.loads(r[11]),
        date_created=from_us(r[12]),
        date_updated=from_us(r[13]),
    )


def message_values(m: Message) -> tuple[Any, ...]:
    """A message's column values in ``MESSAGE_COLS`` order (positional binding is cheaper)."""
    return (
        m.sid,
        m.account_sid,
        m.to,
        m.from_,
        m.body,
        m.status.value,
        m.direction.value,
        m.num_segments,
        m.num_media,
        to_us(m.date_created),
        to_us(m.date_updated),
        None if m.date_sent is None else to_us(m.date_sent),
        m.list_key,
        m.messaging_service_sid,
        m.price,
        m.price_unit,
        m.error_code,
        m.error_message,
        m.status_callback,
        m.validity_period,
        None if m.send_at is None else to_us(m.send_at),
        m.encoding,
        orjson.dumps(m.media_urls).decode(),
        orjson.dumps(m.options).decode(),
    )


def message_params(m: Message) -> dict[str, Any]:
    return dict(zip(MESSAGE_NAMES, message_values(m), strict=True))


# Enum lookups by value: calling Status(value) goes through EnumType.__call__, about 0.5 µs
# each, twice per row of a list page.
_STATUSES = {s.value: s for s in Status}
_DIRECTIONS = {d.value: d for d in Direction}


def _json_list(text: str) -> Any:
    return [] if text == "[]" else orjson.loads(text)


def _json_dict(text: str) -> Any:
    return {} if text == "{}" else orjson.loads(text)


def message_from(r: Row) -> Message:
    return Message(
        sid=r[0],
        account_sid=r[1],
        to=r[2],
        from_=r[3],
        body=r[4],
        status=_STATUSES[r[5]],
        direction=_DIRECTIONS[r[6]],
        num_segments=r[7],
        num_media=r[8],
        date_created=from_us(r[9]),
        date_updated=from_us(r[10]),
        date_sent=None if r[11] is None else from_us(r[11]),
        # r[12] is list_key, derived from the dates
        messaging_service_sid=r[13],
        price=r[14],
        price_unit=r[15],
        error_code=r[16],
        error_message=r[17],
        status_callback=r[18],
        validity_period=r[19],
        send_at=None if r[20] is None else from_us(r[20]),
        encoding=r[21],
        media_urls=_json_list(r[22]),
        options=_json_dict(r[23]),
    )


def page_query(
    select: str,
    where: list[str],
    params: dict[str, Any],
    keys: tuple[str, ...],
    *,
    descending: bool,
    page: PageRequest,
    boundary: Sequence[Any] | None,
    key_range: KeyRange | None = None,
) -> tuple[str, dict[str, Any], bool]:
    """Build a keyset (or legacy offset) page query over ``keys``.

    Returns the SQL, its parameters, and whether the fetched rows must be reversed (a
    ``PB`` page is read backwards from its boundary). One row more than the page size is
    fetched so the caller can tell whether another page exists in the reading direction.

    ``key_range`` bounds the first key (a date filter). The page boundary bounds the keys
    too, and SQLite's planner seeks an index on at most one bound per side: given two upper
    bounds it seeks on one and filters the rest row by row (a deep page then reads every row
    above it), or even leaves the filter's index for another one. So the two are folded
    here: whichever bound is tighter is the only one written.
    """
    conds = list(where)
    params = dict(params)
    reverse = False
    desc_order = descending
    lo = None if key_range is None else key_range.lo
    hi = None if key_range is None else key_range.hi
    if page.cursor is not None and boundary is not None:
        before = page.cursor.direction == "before"
        # Reading forwards in list order means "smaller" for a descending list.
        op = ">" if descending == before else "<"
        first = boundary[0]
        if op == "<" and hi is not None and hi <= first:
            pass  # key < hi already keeps every row below the boundary
        elif op == ">" and lo is not None and lo > first:
            pass  # key >= lo already keeps every row above the boundary
        else:
            names = [f"b{i}" for i in range(len(keys))]
            params.update(zip(names, boundary, strict=True))
            conds.append(f"({', '.join(keys)}) {op} ({', '.join(':' + n for n in names)})")
            # ... and the boundary implies the range's bound on the same side.
            if op == "<":
                hi = None
            else:
                lo = None
        if before:
            reverse, desc_order = True, not descending
    if lo is not None:
        conds.append(f"{keys[0]} >= :key_lo")
        params["key_lo"] = lo
    if hi is not None:
        conds.append(f"{keys[0]} < :key_hi")
        params["key_hi"] = hi
    order = ", ".join(f"{k} {'DESC' if desc_order else 'ASC'}" for k in keys)
    sql = f"{select} WHERE {' AND '.join(conds)} ORDER BY {order} LIMIT :limit"
    params["limit"] = page.page_size + 1
    if page.offset:
        sql += " OFFSET :offset"
        params["offset"] = page.offset
    return sql, params, reverse


def to_page(rows: list[T], page: PageRequest, reverse: bool) -> Page[T]:
    """Cut the one-extra row off and say which neighbours exist."""
    more = len(rows) > page.page_size
    rows = rows[: page.page_size]
    if reverse:
        rows.reverse()
        return Page(rows, has_next=True, has_previous=more)
    has_previous = page.cursor is not None or page.offset > 0
    return Page(rows, has_next=more, has_previous=has_previous)
