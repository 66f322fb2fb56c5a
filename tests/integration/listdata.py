"""A small, skewed message store for the list tests (a SQLite file or a PostgreSQL database)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from smsgate.domain.accounts import Account, AccountStatus
from smsgate.domain.dates import DateRange
from smsgate.domain.messages import Direction, Message, Status
from smsgate.ids import new_sid
from smsgate.store.base import MessageFilter
from tests.stores import StoreHome

T0 = datetime(2026, 10, 1, tzinfo=UTC)
TOS = [f"+1415555{i:04d}" for i in range(20)]
FROMS = ["+15005550006", "+12025550123", "+13125550000"]
# LIKE's wildcards and letter case in bodies, for the console's body search
BODIES = ["hi", "Hello World", "50% off_today", "café au lait", "50 percent offXtoday"]


@dataclass(frozen=True)
class Seeded:
    """The store file, the account whose lists are tested, and its messages oldest first."""

    path: Path
    account: str
    messages: list[Message]
    home: StoreHome


def _account(sid: str) -> Account:
    return Account(sid, sid, "plans", "0" * 32, AccountStatus.ACTIVE, T0, T0)


def _messages(account: str, n: int, rng: random.Random) -> Iterator[Message]:
    for i in range(n):
        created = T0 + timedelta(minutes=10 * i)
        sent = rng.random() < 0.8
        yield Message(
            sid=new_sid("SM", now_ms=int(created.timestamp() * 1000)),
            account_sid=account,
            # skewed: the first To and the first From are hot
            to=TOS[min(int(rng.expovariate(0.3)), len(TOS) - 1)],
            from_=rng.choices(FROMS, weights=[8, 3, 1])[0],
            body=BODIES[i % len(BODIES)],
            status=Status.DELIVERED if sent else Status.QUEUED,
            direction=Direction.INBOUND if i % 7 == 0 else Direction.OUTBOUND_API,
            num_segments=1,
            num_media=0,
            date_created=created,
            date_updated=created,
            date_sent=created + timedelta(seconds=2) if sent else None,
        )


def _day(days: int) -> datetime:
    return T0 + timedelta(days=days)


# Every filter combination a message list accepts.
FILTERS: dict[str, MessageFilter] = {
    "none": MessageFilter(),
    "to": MessageFilter(to=TOS[0]),
    "from": MessageFilter(from_=FROMS[0]),
    "to+from": MessageFilter(to=TOS[0], from_=FROMS[1]),
    "date>=": MessageFilter(date_sent=DateRange(_day(1))),
    "date<": MessageFilter(date_sent=DateRange(None, _day(3))),
    "date range": MessageFilter(date_sent=DateRange(_day(1), _day(3))),
    "to+date": MessageFilter(to=TOS[0], date_sent=DateRange(_day(1), _day(3))),
    "from+date": MessageFilter(from_=FROMS[0], date_sent=DateRange(_day(1), _day(3))),
    "to+from+date": MessageFilter(to=TOS[0], from_=FROMS[0], date_sent=DateRange(_day(1), _day(3))),
    # the console's filters
    "status": MessageFilter(status="queued"),
    "direction": MessageFilter(direction="inbound"),
    "number": MessageFilter(number=FROMS[1]),
    "number (to side)": MessageFilter(number=TOS[1]),
    "body": MessageFilter(body_contains="hello"),
    "body with % and _": MessageFilter(body_contains="0% off_"),
    "status+number+date": MessageFilter(
        status="delivered", number=TOS[0], date_sent=DateRange(_day(1), _day(3))
    ),
}


def build(path: Path, url: str | None = None) -> Seeded:
    """Two accounts on a fresh store at ``path``: 600 messages for the tested one, 300 more."""
    home = StoreHome("postgres" if url else "sqlite", path.parent, url)
    assert home.path == path
    rng = random.Random(7)
    main, other = new_sid("AC"), new_sid("AC")
    mine = list(_messages(main, 600, rng))

    async def fill() -> None:
        store = home.make()
        await store.open()
        try:
            for sid in (main, other):
                await store.create_account(_account(sid))
            batch = [*mine, *_messages(other, 300, rng)]
            await asyncio.gather(*(store.insert_message(m) for m in batch))
        finally:
            await store.close()

    asyncio.run(fill())
    return Seeded(path, main, mine, home)
