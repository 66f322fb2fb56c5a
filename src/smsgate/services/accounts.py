"""Use cases for accounts, subaccounts, API keys, and authenticating a request."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from smsgate.clock import Clock
from smsgate.domain.accounts import (
    Account,
    AccountStatus,
    ApiKey,
    hash_secret,
    secret_matches,
    token_matches,
)
from smsgate.domain.paging import Page, PageRequest
from smsgate.errors import AuthenticationFailed, BadRequest, Forbidden, NotFound
from smsgate.ids import is_sid, new_secret, new_sid
from smsgate.store.base import AccountFilter, Store


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the account whose credentials were presented, and how."""

    account: Account
    key_sid: str | None = None

    @property
    def via_key(self) -> bool:
        return self.key_sid is not None


class AccountService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # -- authentication -------------------------------------------------------------------

    async def authenticate(self, username: str, password: str) -> Principal:
        """Check ``AccountSid:AuthToken`` or ``SK…:secret``; raise 20003 on any mismatch."""
        if is_sid(username, "AC"):
            account = await self._store.get_account(username)
            if account is None or not token_matches(password, account.auth_token):
                raise AuthenticationFailed()
            principal = Principal(account)
        elif is_sid(username, "SK"):
            key = await self._store.get_key(username)
            if key is None or not secret_matches(password, key.secret_hash):
                raise AuthenticationFailed()
            owner = await self._store.get_account(key.account_sid)
            if owner is None:
                raise AuthenticationFailed()
            principal = Principal(owner, key.sid)
        else:
            raise AuthenticationFailed()
        if principal.account.status is AccountStatus.CLOSED:
            raise AuthenticationFailed()
        return principal

    @staticmethod
    def fingerprint(principal: Principal, secret_hash: str | None = None) -> str:
        """A short digest of the credential a principal signed in with, kept in a session
        so that a new auth token, or a deleted key, ends the sessions opened with the old."""
        credential = secret_hash if principal.via_key else principal.account.auth_token
        digest = hashlib.sha256(f"{principal.key_sid}:{credential}".encode())
        return digest.hexdigest()[:32]

    async def session_fingerprint(self, principal: Principal) -> str:
        key = await self._store.get_key(principal.key_sid) if principal.key_sid else None
        return self.fingerprint(principal, key.secret_hash if key else None)

    async def reauthenticate(
        self, account_sid: str, key_sid: str | None, fingerprint: str
    ) -> Principal:
        """The principal of a session opened by ``authenticate``: the same checks (the
        account or key still exists, its credential is unchanged, the account is not
        closed) without the secret itself; raise 20003 otherwise."""
        account = await self._store.get_account(account_sid) if is_sid(account_sid, "AC") else None
        if account is None or account.status is AccountStatus.CLOSED:
            raise AuthenticationFailed()
        secret_hash = None
        if key_sid is not None:
            key = await self._store.get_key(key_sid) if is_sid(key_sid, "SK") else None
            if key is None or key.account_sid != account.sid:
                raise AuthenticationFailed()
            secret_hash = key.secret_hash
        principal = Principal(account, key_sid)
        if not token_matches(fingerprint, self.fingerprint(principal, secret_hash)):
            raise AuthenticationFailed()
        return principal

    async def resolve(self, principal: Principal, account_sid: str) -> Account:
        """The account named in the URL, if the principal may act on it.

        A main account reaches its subaccounts; nobody reaches anyone else. Unknown and
        foreign accounts answer the same 401, so the response leaks nothing.
        """
        if account_sid == principal.account.sid:
            return principal.account
        target = await self._store.get_account(account_sid) if is_sid(account_sid, "AC") else None
        if target is None or not principal.account.can_act_on(target):
            raise AuthenticationFailed()
        return target

    @staticmethod
    def require_account_credentials(principal: Principal) -> None:
        """Accounts and Keys are managed with the auth token only, as Twilio's standard keys."""
        if principal.via_key:
            raise Forbidden(
                "API keys cannot manage accounts or keys; use the account's auth token."
            )

    # -- accounts ---------------------------------------------------------------------------

    async def create_main(self, friendly_name: str | None) -> Account:
        """A new top-level account (used by the CLI, never through the API)."""
        now = self._clock.now()
        return await self._create(None, friendly_name or f"smsgate account {now:%Y-%m-%d %H:%M:%S}")

    async def create_subaccount(self, principal: Principal, friendly_name: str | None) -> Account:
        self.require_account_credentials(principal)
        parent = principal.account
        if parent.is_subaccount:
            raise Forbidden("A subaccount cannot create subaccounts.")
        now = self._clock.now()
        name = friendly_name or f"SubAccount Created at {now:%Y-%m-%d %I:%M %p}"
        return await self._create(parent.sid, name)

    async def _create(self, owner_sid: str | None, friendly_name: str) -> Account:
        now = self._clock.now()
        sid = new_sid("AC")
        account = Account(
            sid=sid,
            owner_account_sid=owner_sid or sid,
            friendly_name=friendly_name,
            auth_token=new_secret(),
            status=AccountStatus.ACTIVE,
            date_created=now,
            date_updated=now,
        )
        await self._store.create_account(account)
        return account

    async def list(
        self, principal: Principal, flt: AccountFilter, page: PageRequest
    ) -> Page[Account]:
        self.require_account_credentials(principal)
        me = principal.account
        if me.is_subaccount:
            return _only(me, flt, page)
        return await self._store.list_accounts(me.sid, flt, page)

    async def update(
        self,
        principal: Principal,
        target: Account,
        friendly_name: str | None,
        status: str | None,
    ) -> Account:
        self.require_account_credentials(principal)
        new_status = target.status if status is None else _parse_status(status)
        if new_status is not target.status:
            _check_transition(principal, target, new_status)
        updated = replace(
            target,
            status=new_status,
            friendly_name=target.friendly_name if friendly_name is None else friendly_name,
            date_updated=self._clock.now(),
        )
        await self._store.save_account(updated)
        return updated

    async def count(self) -> int:
        return await self._store.count_accounts()

    # -- API keys ---------------------------------------------------------------------------

    async def create_key(
        self, principal: Principal, account: Account, friendly_name: str | None
    ) -> tuple[ApiKey, str]:
        """A new key and its secret; the secret is returned here once and never stored."""
        self.require_account_credentials(principal)
        now = self._clock.now()
        secret = new_secret()
        key = ApiKey(
            sid=new_sid("SK"),
            account_sid=account.sid,
            friendly_name=friendly_name or "",
            secret_hash=hash_secret(secret),
            date_created=now,
            date_updated=now,
        )
        await self._store.create_key(key)
        return key, secret

    async def get_key(self, principal: Principal, account: Account, sid: str) -> ApiKey:
        self.require_account_credentials(principal)
        key = await self._store.get_key(sid) if is_sid(sid, "SK") else None
        if key is None or key.account_sid != account.sid:
            raise NotFound()
        return key

    async def list_keys(
        self, principal: Principal, account: Account, page: PageRequest
    ) -> Page[ApiKey]:
        self.require_account_credentials(principal)
        return await self._store.list_keys(account.sid, page)

    async def update_key(
        self, principal: Principal, account: Account, sid: str, friendly_name: str | None
    ) -> ApiKey:
        key = await self.get_key(principal, account, sid)
        key = replace(
            key,
            friendly_name=key.friendly_name if friendly_name is None else friendly_name,
            date_updated=self._clock.now(),
        )
        await self._store.save_key(key)
        return key

    async def delete_key(self, principal: Principal, account: Account, sid: str) -> None:
        self.require_account_credentials(principal)
        if not await self._store.delete_key(account.sid, sid):
            raise NotFound()


def _only(account: Account, flt: AccountFilter, page: PageRequest) -> Page[Account]:
    """A subaccount sees only itself in the account list."""
    matches = (flt.friendly_name is None or flt.friendly_name == account.friendly_name) and (
        flt.status is None or flt.status is account.status
    )
    first_page = page.cursor is None and page.offset == 0
    return Page([account] if matches and first_page else [], False, not first_page)


def _parse_status(raw: str) -> AccountStatus:
    try:
        return AccountStatus(raw)
    except ValueError:
        raise BadRequest(
            f"Status must be one of active, suspended, closed; got '{raw}'", code=20001
        ) from None


def _check_transition(principal: Principal, target: Account, new: AccountStatus) -> None:
    if not target.is_subaccount or target.sid == principal.account.sid:
        raise Forbidden("Only a main account can change the status of its subaccounts.")
    if target.status is AccountStatus.CLOSED:
        raise BadRequest("A closed account cannot be reopened.", code=20001)
