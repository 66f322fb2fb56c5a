"""Use cases for IncomingPhoneNumbers: the numbers an account owns and their SMS webhooks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from smsgate.clock import Clock
from smsgate.domain.accounts import Account
from smsgate.domain.messages import is_http_url
from smsgate.domain.numbers import HTTP_METHODS, PhoneNumber, friendly_format, number_type, to_e164
from smsgate.domain.paging import Page, PageRequest
from smsgate.errors import BadRequest, NotFound, ValidationError
from smsgate.ids import is_sid, new_sid
from smsgate.store.base import DuplicateKey, NumberFilter, Store

# Twilio's test credentials treat this number as "unavailable".
UNAVAILABLE_TEST_NUMBER = "+15005550000"

URL_FIELDS = ("sms_url", "sms_fallback_url", "status_callback")
METHOD_FIELDS = ("sms_method", "sms_fallback_method", "status_callback_method")


@dataclass(frozen=True, slots=True)
class NumberChanges:
    """Fields a create or update may set; None means "leave as it is"."""

    friendly_name: str | None = None
    sms_url: str | None = None
    sms_method: str | None = None
    sms_fallback_url: str | None = None
    sms_fallback_method: str | None = None
    status_callback: str | None = None
    status_callback_method: str | None = None
    extra: dict[str, str] | None = None


class NumberService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def create(
        self, account: Account, phone_number: str | None, changes: NumberChanges
    ) -> PhoneNumber:
        if not phone_number:
            raise ValidationError("A 'PhoneNumber' is required.", code=21421)
        e164 = to_e164(phone_number) if phone_number.startswith("+") else None
        if e164 is None:
            raise ValidationError(f"PhoneNumber {phone_number} is invalid.", code=21421)
        if e164 == UNAVAILABLE_TEST_NUMBER:
            raise _unavailable(e164)
        _check(changes)
        now = self._clock.now()
        number = PhoneNumber(
            sid=new_sid("PN"),
            account_sid=account.sid,
            phone_number=e164,
            friendly_name=friendly_format(e164),
            date_created=now,
            date_updated=now,
            number_type=number_type(e164),
        )
        number = _apply(number, changes)
        try:
            await self._store.create_number(number)
        except DuplicateKey:
            raise _unavailable(e164) from None
        return number

    async def get(self, account: Account, sid: str) -> PhoneNumber:
        number = await self._store.get_number(account.sid, sid) if is_sid(sid, "PN") else None
        if number is None:
            raise NotFound()
        return number

    async def list(
        self, account: Account, flt: NumberFilter, page: PageRequest
    ) -> Page[PhoneNumber]:
        return await self._store.list_numbers(account.sid, flt, page)

    async def update(
        self,
        account: Account,
        sid: str,
        changes: NumberChanges,
        new_owner: Account | None = None,
    ) -> PhoneNumber:
        """Change a number's settings, or move it to another account of the same family."""
        number = await self.get(account, sid)
        _check(changes)
        number = replace(
            _apply(number, changes),
            account_sid=number.account_sid if new_owner is None else new_owner.sid,
            date_updated=self._clock.now(),
        )
        await self._store.save_number(number)
        return number

    async def delete(self, account: Account, sid: str) -> None:
        if not is_sid(sid, "PN") or not await self._store.delete_number(account.sid, sid):
            raise NotFound()


def _unavailable(e164: str) -> ValidationError:
    return ValidationError(f"PhoneNumber {e164} is not available.", code=21422)


def _check(changes: NumberChanges) -> None:
    for name in URL_FIELDS:
        url = getattr(changes, name)
        if url and not is_http_url(url):
            raise ValidationError(f"{_wire(name)} is not a valid URL: {url}", code=21502)
    for name in METHOD_FIELDS:
        method = getattr(changes, name)
        if method is not None and method.upper() not in HTTP_METHODS:
            raise BadRequest(f"{_wire(name)} must be GET or POST, got '{method}'", code=20001)


def _apply(number: PhoneNumber, changes: NumberChanges) -> PhoneNumber:
    """``number`` with every field ``changes`` sets replaced."""
    updates: dict[str, Any] = {}
    if changes.friendly_name is not None:
        updates["friendly_name"] = changes.friendly_name
    for name in URL_FIELDS:
        value = getattr(changes, name)
        if value is not None:
            updates[name] = value or None  # "" clears a URL
    for name in METHOD_FIELDS:
        value = getattr(changes, name)
        if value is not None:
            updates[name] = value.upper()
    if changes.extra:
        updates["extra"] = {**number.extra, **changes.extra}
    return replace(number, **updates)


def _wire(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")).replace("Sms", "Sms")
