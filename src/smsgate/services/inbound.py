"""Use cases for inbound messages: receive one, and act on what its webhook answered.

An inbound message (from the simulator's injection, the CLI, or a carrier) is stored as a
``received`` Message. In the same store transaction smsgate queues the request to the
number's ``SmsUrl`` (or its Messaging Service's ``InboundRequestUrl``:
smsgate.domain.pools.inbound_target), records an opt-out keyword (STOP …/START …) and
queues the automatic keyword reply, so a crash loses none of them. The webhook sender asks
``rejects`` whether a 2xx answer is usable TwiML (if not, the request failed and the
fallback URL is tried) and hands the final answer to ``finish``, which turns TwiML
``<Message>`` verbs into ``outbound-reply`` messages, recorded together with the attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from urllib.parse import urljoin

from smsgate.clock import Clock
from smsgate.connectors.base import InboundSms
from smsgate.domain import segments
from smsgate.domain.accounts import Account
from smsgate.domain.dates import to_us
from smsgate.domain.delivery import Callback, CallbackResult, ClaimedCallback, MoPart
from smsgate.domain.inbound import (
    InboundRecord,
    OptChange,
    OptOut,
    QueuedReply,
    WebhookResponse,
    check_content,
    inbound_params,
)
from smsgate.domain.media import Media, MediaProblem, StagedFile, media_uri
from smsgate.domain.messages import (
    CreateRequest,
    Direction,
    Message,
    Status,
    validate_create,
)
from smsgate.domain.numbers import PhoneNumber, region_of, to_e164
from smsgate.domain.optout import AutoReplies, Keyword, classify
from smsgate.domain.pools import InboundTarget, inbound_target
from smsgate.domain.senders import default_mps
from smsgate.domain.twiml import Reply, document_problem, is_twiml, parse_replies
from smsgate.errors import NotFound, SmsgateError, ValidationError
from smsgate.ids import new_sid
from smsgate.services.media import MediaService
from smsgate.store.base import Store

logger = logging.getLogger(__name__)

# Twilio's Debugger code for a webhook answer that is not a valid TwiML document.
DOCUMENT_PARSE_FAILURE = 12100


class InboundService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        replies: AutoReplies | None = None,
        sender_mps: float | None = None,
        open_senders: frozenset[str] = frozenset(),
        on_enqueued: Callable[[], None] | None = None,
        media: MediaService | None = None,
        public_url: str = "",
    ) -> None:
        """``replies`` are the automatic keyword answers; ``sender_mps`` and ``open_senders``
        mean what they mean for MessageService; ``on_enqueued`` wakes the worker and the
        webhook sender of this process (another process finds the work by polling).
        ``media`` fetches and stores an inbound message's media before it is stored (without
        it, media URLs are passed on as they came); the webhook's ``MediaUrlN`` then point
        at the stored copies under ``public_url``."""
        self._media = media
        self._public_url = public_url.rstrip("/")
        self._store = store
        self._clock = clock
        self._replies = replies or AutoReplies()
        self._sender_mps = sender_mps
        self._open_senders = open_senders
        self._on_enqueued = on_enqueued

    # -- receiving ----------------------------------------------------------------------------

    async def simulate(
        self,
        caller: Account,
        from_: str | None,
        to: str | None,
        body: str,
        media_urls: tuple[str, ...] = (),
    ) -> Message:
        """``POST /simulator/inbound``: ``caller`` must own ``To`` (or be its owner's parent);
        a number nobody owns and a number of another account answer the same 404."""
        number = await self._number(to)
        owner = await self._store.get_account(number.account_sid)
        if owner is None or not caller.can_act_on(owner):
            raise _unknown_number(number.phone_number)
        return await self._receive(number, from_, body, media_urls)

    async def inject(
        self, from_: str | None, to: str | None, body: str, media_urls: tuple[str, ...] = ()
    ) -> Message:
        """An inbound message for whichever account owns ``To`` (the CLI, a carrier)."""
        return await self._receive(await self._number(to), from_, body, media_urls)

    async def receive_sms(self, sms: InboundSms) -> None:
        """A connector's ``on_inbound`` handler: a message nobody can take is logged.

        The parts of a concatenated message are kept in the store until the last arrives,
        then stored as one message. It returns only once what it got is durable, so the
        carrier may be acknowledged.
        """
        part: MoPart | None = None
        if sms.part is not None:
            part = MoPart(
                sms.carrier,
                sms.from_,
                sms.to,
                sms.part.ref,
                sms.part.total,
                sms.part.seq,
                sms.body,
                to_us(self._clock.now()),
            )
            bodies = await self._store.add_mo_part(part)
            if bodies is None:
                return
            sms = replace(sms, body="".join(bodies), num_segments=len(bodies), part=None)
        try:
            number = await self._number(sms.to)
            await self._receive(number, sms.from_, sms.body, sms.media_urls, sms.num_segments)
        except SmsgateError as exc:
            logger.warning("inbound message from %s to %s dropped: %s", sms.from_, sms.to, exc)
        if part is not None:
            await self._store.drop_mo_parts(part)

    async def _number(self, to: str | None) -> PhoneNumber:
        if not to:
            raise ValidationError("A 'To' phone number is required.", code=21604)
        e164 = to_e164(to) if to.startswith("+") else None
        if e164 is None:
            raise ValidationError(f"The 'To' number {to} is not a valid phone number.", code=21211)
        number = await self._store.find_number(e164)
        if number is None:
            raise _unknown_number(e164)
        return number

    async def _receive(
        self,
        number: PhoneNumber,
        from_: str | None,
        body: str,
        media_urls: tuple[str, ...],
        parts: int = 1,
    ) -> Message:
        """``parts``: how many SMS the carrier delivered the body in (Twilio's NumSegments
        of an inbound message), when more than the body needs."""
        sender = _valid_sender(from_, number.phone_number)
        check_content(body, media_urls)
        now = self._clock.now()
        info = segments.analyze(body)
        message = Message(
            sid=new_sid("MM" if media_urls else "SM", now_ms=to_us(now) // 1000),
            account_sid=number.account_sid,
            to=number.phone_number,
            from_=sender,
            body=body,
            status=Status.RECEIVED,
            direction=Direction.INBOUND,
            num_segments=max(info.num_segments, parts),
            num_media=len(media_urls),
            date_created=now,
            date_updated=now,
            encoding=info.encoding.value,
            media_urls=list(media_urls),
        )
        media, staged = await self._fetch_media(message)
        keyword = classify(body)
        # A number in a Messaging Service: the message belongs to the service, its webhook
        # is the service's (unless it defers to the number's), and an opt-out covers the
        # whole service (Twilio's scope).
        service = await self._store.service_of_number(number.sid)
        if service is not None:
            message.messaging_service_sid = service.sid
        target = inbound_target(number, service)
        # Twilio's date_sent of an inbound message is when it requested the webhook; with
        # no webhook to request, the message counts as sent when it arrived.
        if target is None:
            message.date_sent = now
        scope = service.sid if service is not None else number.phone_number
        record = InboundRecord(
            message,
            callback=_webhook(target, message, self._media_params(media)),
            opt=_opt_change(number, scope, sender, keyword),
            replies=self._auto_reply(number, sender, keyword, now),
            media=tuple(media),
            staged=tuple(staged),
        )
        try:
            await self._store.insert_inbound(record)
        finally:
            if self._media is not None:
                self._media.discard(staged)
        logger.info(
            "inbound %s from %s to %s%s",
            message.sid,
            sender,
            number.phone_number,
            f" ({keyword.value})" if keyword else "",
        )
        if (record.callback or record.replies) and self._on_enqueued is not None:
            self._on_enqueued()
        return message

    async def _fetch_media(self, message: Message) -> tuple[list[Media], list[StagedFile]]:
        """Fetch an inbound message's media (a URL that cannot be used refuses the message
        with Twilio's code)."""
        if self._media is None or not message.media_urls:
            return [], []
        try:
            staged = await self._media.fetch_all(message.media_urls)
        except MediaProblem as problem:
            raise ValidationError(f"Media cannot be used: {problem}", code=problem.code) from None
        media = self._media.records(message.account_sid, message.sid, staged, message.date_created)
        return media, staged

    def _media_params(self, media: list[Media]) -> list[tuple[str, str]] | None:
        if self._media is None:
            return None
        return [(self._public_url + media_uri(m), m.content_type) for m in media]

    def _auto_reply(
        self, number: PhoneNumber, sender: str, keyword: Keyword | None, now: datetime
    ) -> tuple[QueuedReply, ...]:
        text = self._replies.for_keyword(keyword)
        if not text:
            return ()
        # Sent even to a recipient who just opted out: it confirms the opt-out.
        message = self._reply_message(
            number.account_sid, sender, number.phone_number, text, (), now
        )
        return (QueuedReply(message, self._mps(number)),)

    # -- the webhook's answer -----------------------------------------------------------------

    def rejects(self, item: ClaimedCallback, response: WebhookResponse) -> str | None:
        """An inbound webhook's 2xx answer that is not a TwiML document fails its request
        (Twilio's 12100 "Document parse failure"), so the fallback URL is tried. An empty or
        non-XML answer is not a failure: it asks for no reply. Status callbacks' answers are
        never judged."""
        if item.callback.kind != "inbound":
            return None
        problem = document_problem(response.content_type, response.body, response.truncated)
        return None if problem is None else f"{DOCUMENT_PARSE_FAILURE}: {problem}"

    async def finish(
        self, item: ClaimedCallback, result: CallbackResult, response: WebhookResponse | None
    ) -> None:
        """Record a webhook attempt and act on its answer (the webhook sender calls this).

        Status callbacks are only recorded. For an inbound webhook that succeeded, every
        ``<Message>`` of a TwiML answer becomes an ``outbound-reply`` message; a reply that
        cannot be sent is skipped and noted on the attempt. A webhook whose URLs all failed
        (including with malformed TwiML, see ``rejects``) creates nothing.
        The attempt, the message's ``date_sent`` and the replies are stored together.
        """
        cb = item.callback
        if cb.kind != "inbound":
            await self._store.finish_callback(result)
            return
        message = await self._store.get_message_by_sid(cb.message_sid)
        replies: tuple[QueuedReply, ...] = ()
        notes: list[str] = []
        if message is not None and result.succeeded and response is not None:
            replies, notes = await self._twiml_replies(message, cb, response)
        if notes:
            result = _noted(result, notes)
        await self._store.finish_inbound_callback(
            result, cb.message_sid, result.attempt.started_us, replies
        )
        if replies and self._on_enqueued is not None:
            self._on_enqueued()

    async def _twiml_replies(
        self, inbound: Message, cb: Callback, response: WebhookResponse
    ) -> tuple[tuple[QueuedReply, ...], list[str]]:
        body = response.body
        if not body.strip() or not is_twiml(response.content_type, body):
            return (), []  # an empty or non-XML answer means "no reply"
        if document_problem(response.content_type, body, response.truncated) is not None:
            return (), []  # ``rejects`` failed this answer; kept for handlers without it
        verbs = parse_replies(body)
        queued: list[QueuedReply] = []
        notes: list[str] = []
        for verb in verbs:
            try:
                queued.append(await self._twiml_reply(inbound, cb, verb))
            except SmsgateError as exc:
                logger.warning("inbound %s: TwiML reply not sent: %s", inbound.sid, exc.message)
                notes.append(f"{exc.code}: {exc.message}")
        return tuple(queued), notes

    async def _twiml_reply(self, inbound: Message, cb: Callback, verb: Reply) -> QueuedReply:
        """Validate one ``<Message>`` as the API validates a create; default to = the inbound
        From, from = the inbound To; a relative ``action`` is resolved against the webhook URL."""
        action = urljoin(cb.url, verb.action) if verb.action else None
        valid = validate_create(
            CreateRequest(
                to=verb.to or inbound.from_,
                from_=verb.from_ or inbound.to,
                body=verb.body,
                media_urls=verb.media_urls,
                status_callback=action,
            )
        )
        sender = valid.from_ or inbound.to
        number = await self._store.find_number(sender)
        owned = number is not None and number.account_sid == inbound.account_sid
        if not owned and sender not in self._open_senders:
            raise ValidationError(
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone "
                "number or short code for your account.",
                code=21606,
            )
        if await self._store.is_opted_out(sender, valid.to):
            raise ValidationError("Attempt to send to unsubscribed recipient", code=21610)
        message = self._reply_message(
            inbound.account_sid,
            valid.to,
            sender,
            valid.body,
            valid.media_urls,
            self._clock.now(),
            status_callback=action,
        )
        return QueuedReply(message, self._mps(number, sender))

    # -- helpers ------------------------------------------------------------------------------

    def _mps(self, number: PhoneNumber | None, sender: str | None = None) -> float:
        if self._sender_mps is not None:
            return self._sender_mps
        phone = sender or (number.phone_number if number is not None else "")
        return default_mps(phone, number.number_type if number is not None else None)

    @staticmethod
    def _reply_message(
        account_sid: str,
        to: str,
        from_: str,
        body: str,
        media_urls: tuple[str, ...],
        now: datetime,
        *,
        status_callback: str | None = None,
    ) -> Message:
        info = segments.analyze(body)
        return Message(
            sid=new_sid("MM" if media_urls else "SM", now_ms=to_us(now) // 1000),
            account_sid=account_sid,
            to=to,
            from_=from_,
            body=body,
            status=Status.QUEUED,
            direction=Direction.OUTBOUND_REPLY,
            num_segments=info.num_segments,
            num_media=len(media_urls),
            date_created=now,
            date_updated=now,
            status_callback=status_callback,
            encoding=info.encoding.value,
            media_urls=list(media_urls),
        )


def _unknown_number(e164: str) -> NotFound:
    return NotFound(f"The requested resource IncomingPhoneNumber {e164} was not found", code=20404)


def _valid_sender(from_: str | None, to: str) -> str:
    """The inbound From as E.164; a national number is read in the country of ``To``."""
    e164 = to_e164(from_, region_of(to)) if from_ else None
    if e164 is None:
        raise ValidationError(
            f"The 'From' number {from_ or ''} is not a valid phone number.", code=21212
        )
    if e164 == to:
        raise ValidationError("'To' and 'From' number cannot be the same: " + to, code=21266)
    return e164


def _webhook(
    target: InboundTarget | None, message: Message, media: list[tuple[str, str]] | None
) -> Callback | None:
    if target is None:
        return None
    return Callback(
        message.account_sid,
        message.sid,
        "inbound",
        target.url,
        target.method,
        inbound_params(message, media),
        target.fallback_url,
        target.fallback_method,
    )


def _opt_change(
    number: PhoneNumber, scope: str, sender: str, keyword: Keyword | None
) -> OptOut | None:
    if keyword is Keyword.OPT_OUT:
        change = OptChange.OPT_OUT
    elif keyword is Keyword.OPT_IN:
        change = OptChange.OPT_IN
    else:
        return None
    return OptOut(scope, sender, number.account_sid, change)


def _noted(result: CallbackResult, notes: list[str]) -> CallbackResult:
    """``result`` with the TwiML problems recorded on the attempt that was answered."""
    text = "; ".join(notes)
    if result.fallback is not None:
        fallback = result.fallback
        return replace(result, fallback=replace(fallback, error=_join(fallback.error, text)))
    return replace(result, attempt=replace(result.attempt, error=_join(result.attempt.error, text)))


def _join(existing: str | None, text: str) -> str:
    return f"{existing}; {text}" if existing else text
