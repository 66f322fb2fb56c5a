"""HTTP Basic credentials → the calling principal and the account named in the URL."""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

from smsgate.domain.accounts import Account
from smsgate.errors import AuthenticationFailed
from smsgate.services.accounts import Principal

from .context import Services, services


def basic_credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise AuthenticationFailed()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed() from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise AuthenticationFailed()
    return username, password


async def principal(request: Request, svc: Services | None = None) -> Principal:
    accounts = (svc or services(request)).accounts
    return await accounts.authenticate(*basic_credentials(request))


async def authorize(request: Request, svc: Services | None = None) -> tuple[Principal, Account]:
    """Authenticate, then resolve ``{account_sid}`` from the path for this principal."""
    svc = svc or services(request)
    who = await principal(request, svc)
    account = await svc.accounts.resolve(who, request.path_params["account_sid"])
    return who, account
