"""First start on an empty store: a main account and a test number, ready to send."""

from __future__ import annotations

from smsgate.domain.accounts import Account
from smsgate.domain.numbers import PhoneNumber
from smsgate.services.accounts import AccountService
from smsgate.services.numbers import NumberChanges, NumberService

# Twilio's "always valid" test sender; owning it makes the documented examples just work.
TEST_NUMBER = "+15005550006"


async def ensure_main_account(
    accounts: AccountService, numbers: NumberService
) -> tuple[Account, PhoneNumber] | None:
    """Create the main account and its test number when no account exists yet."""
    if await accounts.count() > 0:
        return None
    account = await accounts.create_main("smsgate main account")
    number = await numbers.create(account, TEST_NUMBER, NumberChanges(friendly_name="test number"))
    return account, number
