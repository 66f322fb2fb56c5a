"""The console's session: who signed in, and the CSRF token every form carries.

The session lives in a cookie signed by Starlette's SessionMiddleware (itsdangerous):
``HttpOnly``, ``SameSite=Strict``, path ``/console``. It holds no secret: the account SID,
the API key SID if one was used, a digest of the credential (so a new auth token or a
deleted key ends it; AccountService.reauthenticate), and the CSRF token. A form's token
must equal the session's (compared in constant time); the sign-in form has one too, so a
third-party page cannot sign a browser in to an account of its choosing.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

from smsgate.api.context import services
from smsgate.api.params import Params
from smsgate.errors import AuthenticationFailed, Forbidden
from smsgate.services.accounts import Principal

COOKIE = "smsgate_console"
MAX_AGE = 12 * 3600


class CsrfFailed(Forbidden):
    """A form came without the session's CSRF token."""


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form: Params) -> None:
    expected = request.session.get("csrf")
    given = form.raw("csrf") or request.headers.get("x-csrf-token") or ""
    if not isinstance(expected, str) or not hmac.compare_digest(given, expected):
        raise CsrfFailed("The form has expired or did not come from this console; try again.")


async def sign_in(request: Request, username: str, password: str) -> Principal:
    """Check the credentials exactly as the API does, then start a fresh session."""
    accounts = services(request).accounts
    who = await accounts.authenticate(username.strip(), password.strip())
    request.session.clear()
    request.session.update(
        {
            "account": who.account.sid,
            "key": who.key_sid,
            "fp": await accounts.session_fingerprint(who),
            "csrf": secrets.token_urlsafe(32),  # a new token: never reuse the anonymous one
        }
    )
    return who


def sign_out(request: Request) -> None:
    request.session.clear()


async def current(request: Request) -> Principal:
    """The signed-in principal; raises AuthenticationFailed (→ the sign-in page) if none."""
    session = request.session
    account, key, fp = session.get("account"), session.get("key"), session.get("fp")
    if not isinstance(account, str) or not isinstance(fp, str):
        raise AuthenticationFailed()
    try:
        return await services(request).accounts.reauthenticate(
            account, key if isinstance(key, str) else None, fp
        )
    except AuthenticationFailed:
        session.clear()
        raise
