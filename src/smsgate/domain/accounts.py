"""Accounts, subaccounts and API keys, and how their secrets are checked."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Account:
    """A main account (``owner_account_sid == sid``) or a subaccount of one."""

    sid: str
    owner_account_sid: str
    friendly_name: str
    auth_token: str
    status: AccountStatus
    date_created: datetime
    date_updated: datetime

    @property
    def is_subaccount(self) -> bool:
        return self.owner_account_sid != self.sid

    def can_act_on(self, other: Account) -> bool:
        """A main account may act on itself and its subaccounts; a subaccount only on itself."""
        return other.sid == self.sid or (
            not self.is_subaccount and other.owner_account_sid == self.sid
        )


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key (``SK…``). Only a hash of its secret is ever stored."""

    sid: str
    account_sid: str
    friendly_name: str
    secret_hash: str
    date_created: datetime
    date_updated: datetime


def hash_secret(secret: str) -> str:
    """The stored form of an API key secret.

    Key secrets are 128 random bits, so a fast hash is as strong as a slow one here and keeps
    authentication cheap on every request.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time check of a presented key secret against its stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def token_matches(presented: str, auth_token: str) -> bool:
    """Constant-time comparison of a presented auth token."""
    return hmac.compare_digest(presented.encode(), auth_token.encode())
