"""What request handlers reach through ``request.app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from smsgate.config import Settings
from smsgate.services.accounts import AccountService
from smsgate.services.inbound import InboundService
from smsgate.services.media import MediaService
from smsgate.services.messages import MessageService
from smsgate.services.messaging_services import MessagingServices
from smsgate.services.numbers import NumberService


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    accounts: AccountService
    numbers: NumberService
    messages: MessageService
    inbound: InboundService
    messaging_services: MessagingServices
    media: MediaService


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc
