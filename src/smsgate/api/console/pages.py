"""Console pages that manage resources: phone numbers, Messaging Services, API keys and
subaccounts. List, create and edit, each through the service the API uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsgate.api.context import Services, services
from smsgate.api.params import Params
from smsgate.domain.accounts import Account
from smsgate.domain.paging import PageRequest
from smsgate.services.accounts import Principal
from smsgate.services.messaging_services import ServiceChanges
from smsgate.services.numbers import NumberChanges
from smsgate.store.base import AccountFilter, NumberFilter

LIST_SIZE = 200

Handler = Callable[[Request, Services, Principal, Account, Params], Awaitable[tuple[str, str]]]
Render = Callable[..., Awaitable[Response]]
SignedIn = Callable[[Request], Awaitable[tuple[Principal, Account]]]
ActionOf = Callable[[Handler], Callable[[Request], Awaitable[Response]]]


def _text(form: Params, name: str) -> str | None:
    """A text field as given (``""`` clears a URL); None when the form has no such field."""
    raw = form.raw(name)
    return None if raw is None else raw.strip()


def _flag(form: Params, name: str) -> bool:
    return form.raw(name) in ("on", "true", "1")


# -- phone numbers --------------------------------------------------------------------------


def _number_changes(form: Params) -> NumberChanges:
    return NumberChanges(
        friendly_name=form.value("friendly_name"),
        sms_url=_text(form, "sms_url"),
        sms_method=form.value("sms_method"),
        sms_fallback_url=_text(form, "sms_fallback_url"),
        status_callback=_text(form, "status_callback"),
    )


async def _create_number(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    changes = _number_changes(form)
    # on create an empty URL means "none", as the API's empty parameters do
    changes = NumberChanges(
        friendly_name=changes.friendly_name,
        sms_url=changes.sms_url or None,
        sms_method=changes.sms_method,
        sms_fallback_url=changes.sms_fallback_url or None,
        status_callback=changes.status_callback or None,
    )
    number = await svc.numbers.create(account, form.value("phone_number"), changes)
    return f"/console/{account.sid}/numbers", f"Added {number.phone_number} ({number.sid})."


async def _edit_number(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    number = await svc.numbers.update(account, request.path_params["sid"], _number_changes(form))
    return f"/console/{account.sid}/numbers", f"Saved {number.phone_number}."


# -- Messaging Services ---------------------------------------------------------------------


def _service_changes(form: Params) -> ServiceChanges:
    validity = form.integer("validity_period")
    return ServiceChanges(
        friendly_name=form.value("friendly_name"),
        inbound_request_url=_text(form, "inbound_request_url"),
        status_callback=_text(form, "status_callback"),
        sticky_sender=_flag(form, "sticky_sender"),
        smart_encoding=_flag(form, "smart_encoding"),
        use_inbound_webhook_on_number=_flag(form, "use_inbound_webhook_on_number"),
        validity_period=validity,
    )


async def _create_service(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    service = await svc.messaging_services.create(account, _service_changes(form))
    return f"/console/{account.sid}/services", f"Created {service.friendly_name} ({service.sid})."


async def _edit_service(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    sid = request.path_params["sid"]
    service = await svc.messaging_services.update(account, sid, _service_changes(form))
    return f"/console/{account.sid}/services", f"Saved {service.friendly_name}."


async def _add_sender(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    sid = request.path_params["sid"]
    await svc.messaging_services.add_number(account, sid, form.value("number_sid") or "")
    return f"/console/{account.sid}/services", "Added the number to the sender pool."


# -- API keys -------------------------------------------------------------------------------


async def _create_key(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    key, secret = await svc.accounts.create_key(who, account, form.value("friendly_name"))
    return (
        f"/console/{account.sid}/keys",
        f"Created {key.sid}. Its secret, shown only now: {secret}",
    )


async def _edit_key(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    sid = request.path_params["sid"]
    key = await svc.accounts.update_key(who, account, sid, form.raw("friendly_name") or "")
    return f"/console/{account.sid}/keys", f"Saved {key.sid}."


async def _delete_key(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    sid = request.path_params["sid"]
    await svc.accounts.delete_key(who, account, sid)
    return f"/console/{account.sid}/keys", f"Deleted {sid}."


# -- subaccounts ----------------------------------------------------------------------------


async def _create_subaccount(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    sub = await svc.accounts.create_subaccount(who, form.value("friendly_name"))
    return f"/console/{account.sid}/accounts", f"Created subaccount {sub.sid}."


async def _edit_account(
    request: Request, svc: Services, who: Principal, account: Account, form: Params
) -> tuple[str, str]:
    target = await svc.accounts.resolve(who, request.path_params["sid"])
    status = form.value("status")
    if status == target.status.value:
        status = None
    updated = await svc.accounts.update(who, target, form.value("friendly_name"), status)
    return f"/console/{account.sid}/accounts", f"Saved {updated.sid}."


def routes(acct: str, action: ActionOf, render: Render, signed_in: SignedIn) -> list[Route]:
    async def numbers(request: Request) -> Response:
        who, account = await signed_in(request)
        svc = services(request)
        page = await svc.numbers.list(account, NumberFilter(), PageRequest(page_size=LIST_SIZE))
        return await render(request, "numbers.html", who, account, numbers=page.items)

    async def services_page(request: Request) -> Response:
        who, account = await signed_in(request)
        svc = services(request)
        found = await svc.messaging_services.list(account, PageRequest(page_size=LIST_SIZE))
        pools: dict[str, Any] = {}
        for s in found.items[:LIST_SIZE]:
            pool = await svc.messaging_services.list_numbers(
                account, s.sid, PageRequest(page_size=LIST_SIZE)
            )
            pools[s.sid] = pool.items
        numbers = await svc.numbers.list(account, NumberFilter(), PageRequest(page_size=LIST_SIZE))
        return await render(
            request,
            "services.html",
            who,
            account,
            services=found.items,
            pools=pools,
            numbers=numbers.items,
        )

    async def keys(request: Request) -> Response:
        who, account = await signed_in(request)
        found = []
        if not who.via_key:
            page = await services(request).accounts.list_keys(
                who, account, PageRequest(page_size=LIST_SIZE)
            )
            found = page.items
        return await render(request, "keys.html", who, account, keys=found)

    async def accounts(request: Request) -> Response:
        who, account = await signed_in(request)
        found = [who.account]
        if not who.via_key:
            page = await services(request).accounts.list(
                who, AccountFilter(), PageRequest(page_size=LIST_SIZE)
            )
            found = page.items
        return await render(request, "accounts.html", who, account, accounts=found)

    return [
        Route(f"{acct}/numbers", numbers, methods=["GET"]),
        Route(f"{acct}/numbers", action(_create_number), methods=["POST"]),
        Route(f"{acct}/numbers/{{sid}}", action(_edit_number), methods=["POST"]),
        Route(f"{acct}/services", services_page, methods=["GET"]),
        Route(f"{acct}/services", action(_create_service), methods=["POST"]),
        Route(f"{acct}/services/{{sid}}", action(_edit_service), methods=["POST"]),
        Route(f"{acct}/services/{{sid}}/senders", action(_add_sender), methods=["POST"]),
        Route(f"{acct}/keys", keys, methods=["GET"]),
        Route(f"{acct}/keys", action(_create_key), methods=["POST"]),
        Route(f"{acct}/keys/{{sid}}", action(_edit_key), methods=["POST"]),
        Route(f"{acct}/keys/{{sid}}/delete", action(_delete_key), methods=["POST"]),
        Route(f"{acct}/accounts", accounts, methods=["GET"]),
        Route(f"{acct}/accounts", action(_create_subaccount), methods=["POST"]),
        Route(f"{acct}/accounts/{{sid}}", action(_edit_account), methods=["POST"]),
    ]
