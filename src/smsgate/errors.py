"""The one error tree of smsgate.

Every error a user can see carries its Twilio error code and HTTP status as data, so the
wire format renders them in exactly one place (``smsgate.api.errors``) and no other layer
knows about HTTP.

    SmsgateError                      twilio_code / http_status / message
    ├── BadRequest                    400, a request parameter is wrong
    │   ├── ValidationError           400, any of Twilio's 21xxx/35xxx create-time codes
    │   ├── InvalidFilter             400, a list filter cannot be parsed
    │   └── InvalidParameters         400, several named parameters are wrong (v2 search)
    ├── AuthenticationFailed          401 / 20003
    ├── Forbidden                     403 / 20403
    ├── AccountNotActive              403 / 10001 (suspended or closed account tries to send)
    ├── NotFound                      404 / 20404
    ├── MethodNotAllowed              405 / 20004
    ├── Conflict                      4xx, a state precondition failed (20009, 30409, 21422 …)
    ├── PayloadTooLarge               413
    └── ServiceUnavailable            503 (store unreachable; carries Retry-After)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar


class SmsgateError(Exception):
    """Base class: an error with a Twilio code, an HTTP status and a human message."""

    http_status: ClassVar[int] = 500
    default_code: ClassVar[int] = 20500
    default_message: ClassVar[str] = "An internal server error occurred."

    def __init__(
        self, message: str | None = None, *, code: int | None = None, status: int | None = None
    ) -> None:
        self.message = message or self.default_message
        self.code = code if code is not None else self.default_code
        self.status = status if status is not None else self.http_status
        super().__init__(self.message)

    @property
    def more_info(self) -> str:
        return f"https://www.twilio.com/docs/errors/{self.code}"


class BadRequest(SmsgateError):
    """A request parameter is missing or malformed."""

    http_status = 400
    default_code = 20001
    default_message = "Invalid parameter."


class ValidationError(BadRequest):
    """A create/update parameter failed one of Twilio's validation rules."""


class InvalidFilter(BadRequest):
    """A list filter value (for example ``DateSent``) cannot be parsed."""


@dataclass(frozen=True, slots=True)
class ParameterProblem:
    """One wrong parameter: its name, what is wrong, and whether it was missing."""

    parameter: str
    message: str
    missing: bool = False


class InvalidParameters(BadRequest):
    """Every problem with a request's parameters at once (the v2 search reports them all)."""

    def __init__(self, problems: Sequence[ParameterProblem]) -> None:
        super().__init__(" ".join(p.message for p in problems), code=20001)
        self.problems = tuple(problems)


class AuthenticationFailed(SmsgateError):
    """Credentials are missing, wrong, or not allowed on this account."""

    http_status = 401
    default_code = 20003
    default_message = "Authenticate"


class Forbidden(SmsgateError):
    """The credentials are valid but may not perform this action."""

    http_status = 403
    default_code = 20403
    default_message = "Forbidden"


class AccountNotActive(SmsgateError):
    """A suspended or closed account tried to send."""

    http_status = 403
    default_code = 10001
    default_message = "Account is not active."


class NotFound(SmsgateError):
    """The resource does not exist (or belongs to an account the caller cannot see)."""

    http_status = 404
    default_code = 20404
    default_message = "The requested resource was not found"


class MethodNotAllowed(SmsgateError):
    """The resource exists but does not support this HTTP method."""

    http_status = 405
    default_code = 20004
    default_message = "Method not allowed"


class Conflict(SmsgateError):
    """The resource is in a state that forbids the action (delete in flight, cancel …)."""

    http_status = 409
    default_code = 20009
    default_message = "Cannot delete this resource before it is complete"


class PayloadTooLarge(SmsgateError):
    """The request body exceeds the server's limit."""

    http_status = 413
    default_code = 20413
    default_message = "Request entity too large"


class ServiceUnavailable(SmsgateError):
    """The store cannot be reached; the client should retry later."""

    http_status = 503
    default_code = 20503
    default_message = "Service is temporarily unavailable. Please retry."

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
