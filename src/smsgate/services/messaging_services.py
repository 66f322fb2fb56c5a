"""Use cases of messaging v1 ``/Services`` and ``/Services/{Sid}/PhoneNumbers``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from smsgate.clock import Clock
from smsgate.domain.accounts import Account
from smsgate.domain.messages import MAX_VALIDITY, MIN_VALIDITY, is_http_url
from smsgate.domain.numbers import HTTP_METHODS
from smsgate.domain.paging import Page, PageRequest
from smsgate.domain.pools import MAX_POOL, MessagingService, PoolNumber
from smsgate.errors import BadRequest, NotFound, ValidationError
from smsgate.ids import is_sid, new_sid
from smsgate.store.base import PoolAdd, Store

MAX_FRIENDLY_NAME = 64
URL_FIELDS = {
    "inbound_request_url": "InboundRequestUrl",
    "fallback_url": "FallbackUrl",
    "status_callback": "StatusCallback",
}
METHOD_FIELDS = {"inbound_method": "InboundMethod", "fallback_method": "FallbackMethod"}
FLAG_FIELDS = ("sticky_sender", "smart_encoding", "use_inbound_webhook_on_number")


@dataclass(frozen=True, slots=True)
class ServiceChanges:
    """Fields a create or update may set; None means "leave as it is" ("" clears a URL)."""

    friendly_name: str | None = None
    inbound_request_url: str | None = None
    inbound_method: str | None = None
    fallback_url: str | None = None
    fallback_method: str | None = None
    status_callback: str | None = None
    sticky_sender: bool | None = None
    smart_encoding: bool | None = None
    validity_period: int | None = None
    use_inbound_webhook_on_number: bool | None = None
    extra: dict[str, str | bool] | None = None


class MessagingServices:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # -- services ------------------------------------------------------------------------

    async def create(self, account: Account, changes: ServiceChanges) -> MessagingService:
        if not changes.friendly_name:
            raise BadRequest("Missing required parameter FriendlyName in the post body")
        _check(changes)
        now = self._clock.now()
        service = _apply(
            MessagingService(new_sid("MG"), account.sid, changes.friendly_name, now, now), changes
        )
        await self._store.create_service(service)
        return service

    async def get(self, account: Account, sid: str) -> MessagingService:
        service = await self._store.get_service(account.sid, sid) if is_sid(sid, "MG") else None
        if service is None:
            raise NotFound()
        return service

    async def list(self, account: Account, page: PageRequest) -> Page[MessagingService]:
        return await self._store.list_services(account.sid, page)

    async def update(self, account: Account, sid: str, changes: ServiceChanges) -> MessagingService:
        service = await self.get(account, sid)
        _check(changes)
        service = replace(_apply(service, changes), date_updated=self._clock.now())
        await self._store.save_service(service)
        return service

    async def delete(self, account: Account, sid: str) -> None:
        if not is_sid(sid, "MG") or not await self._store.delete_service(account.sid, sid):
            raise NotFound()

    # -- the sender pool -----------------------------------------------------------------

    async def add_number(
        self, account: Account, service_sid: str, number_sid: str | None
    ) -> PoolNumber:
        service = await self.get(account, service_sid)
        if not number_sid:
            raise BadRequest("Missing required parameter PhoneNumberSid in the post body")
        number = None
        if is_sid(number_sid, "PN"):
            number = await self._store.get_number(account.sid, number_sid)
        if number is None:
            raise _invalid_number(number_sid)
        now = self._clock.now()
        entry = PoolNumber(service.sid, account.sid, number.sid, number.phone_number, now, now)
        outcome = await self._store.add_pool_number(entry, MAX_POOL)
        if outcome is PoolAdd.NO_NUMBER:
            raise _invalid_number(number_sid)
        if outcome is PoolAdd.ALREADY_HERE:
            raise ValidationError(
                f"Phone Number {number.phone_number} is already in the Messaging Service.",
                code=21710,
            )
        if outcome is PoolAdd.ELSEWHERE:
            raise ValidationError(
                f"Phone Number {number.phone_number} is associated with another Messaging Service.",
                code=21712,
            )
        if outcome is PoolAdd.POOL_FULL:
            raise ValidationError(
                f"Messaging Service Number Pool size limit ({MAX_POOL}) reached.", code=21714
            )
        return entry

    async def get_number(self, account: Account, service_sid: str, number_sid: str) -> PoolNumber:
        service = await self.get(account, service_sid)
        found = None
        if is_sid(number_sid, "PN"):
            found = await self._store.get_pool_number(service.sid, number_sid)
        if found is None:
            raise NotFound()
        return found

    async def list_numbers(
        self, account: Account, service_sid: str, page: PageRequest
    ) -> Page[PoolNumber]:
        service = await self.get(account, service_sid)
        return await self._store.list_pool_numbers(service.sid, page)

    async def remove_number(self, account: Account, service_sid: str, number_sid: str) -> None:
        service = await self.get(account, service_sid)
        if not is_sid(number_sid, "PN") or not await self._store.remove_pool_number(
            service.sid, number_sid
        ):
            raise NotFound()


def _invalid_number(sid: str) -> ValidationError:
    return ValidationError(f"The Phone Number SID {sid} is invalid.", code=21421)


def _check(changes: ServiceChanges) -> None:
    if changes.friendly_name is not None and len(changes.friendly_name) > MAX_FRIENDLY_NAME:
        raise BadRequest(f"FriendlyName may be at most {MAX_FRIENDLY_NAME} characters long")
    for name, wire in URL_FIELDS.items():
        url = getattr(changes, name)
        if url and not is_http_url(url):
            raise ValidationError(f"{wire} is not a valid URL: {url}", code=21502)
    for name, wire in METHOD_FIELDS.items():
        method = getattr(changes, name)
        if method is not None and method.upper() not in HTTP_METHODS:
            raise BadRequest(f"{wire} must be GET or POST, got '{method}'")
    period = changes.validity_period
    if period is not None and not MIN_VALIDITY <= period <= MAX_VALIDITY:
        raise BadRequest(f"ValidityPeriod must be from {MIN_VALIDITY} to {MAX_VALIDITY} seconds")


def _apply(service: MessagingService, changes: ServiceChanges) -> MessagingService:
    """``service`` with every field ``changes`` sets replaced."""
    updates: dict[str, Any] = {}
    if changes.friendly_name:
        updates["friendly_name"] = changes.friendly_name
    for name in URL_FIELDS:
        value = getattr(changes, name)
        if value is not None:
            updates[name] = value or None
    for name in METHOD_FIELDS:
        value = getattr(changes, name)
        if value is not None:
            updates[name] = value.upper()
    for name in (*FLAG_FIELDS, "validity_period"):
        value = getattr(changes, name)
        if value is not None:
            updates[name] = value
    if changes.extra:
        updates["extra"] = {**service.extra, **changes.extra}
    return replace(service, **updates)
