"""Reading the TwiML a webhook answers with: which reply messages to create.

``<Response><Message>text</Message></Response>`` or ``<Message>`` with ``<Body>`` and
``<Media>`` children; ``to``, ``from``, ``action`` and ``method`` attributes. An empty
``<Response/>`` or a body that is not XML creates nothing; XML that is not a TwiML document
fails the webhook request (``document_problem``). Untrusted XML is parsed with
defusedxml, so entity expansion and external references are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring


class TwiMLError(ValueError):
    """The webhook answered with a document that is not TwiML: malformed XML, or XML whose
    root is not ``<Response>`` (Twilio's Debugger error 12100, "Document parse failure")."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One ``<Message>`` verb: a message to send back."""

    body: str
    media_urls: tuple[str, ...] = ()
    to: str | None = None
    from_: str | None = None
    action: str | None = None
    method: str | None = None


def is_twiml(content_type: str | None, body: bytes) -> bool:
    """Whether a webhook response looks like TwiML at all (anything else creates no reply)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind in ("text/xml", "application/xml") or body.lstrip().startswith(b"<")


def document_problem(content_type: str | None, body: bytes, truncated: bool = False) -> str | None:
    """Why a 2xx webhook answer is not a usable TwiML document, or None when it is one.

    An empty body and an answer that is not XML (see ``is_twiml``) are fine: they ask for
    no reply. XML that does not parse, whose root is not ``<Response>``, or that was cut
    because it is too large is a document parse failure, which fails the request like a
    non-2xx answer would (so the fallback URL is tried).
    """
    if not body.strip() or not is_twiml(content_type, body):
        return None
    if truncated:
        return "the TwiML answer is too large"
    try:
        parse_replies(body)
    except TwiMLError as exc:
        return str(exc)
    return None


def parse_replies(body: bytes) -> list[Reply]:
    """The ``<Message>`` verbs of a TwiML document, in order. Raises TwiMLError."""
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise TwiMLError(f"malformed TwiML: {exc}") from exc
    if root.tag != "Response":
        raise TwiMLError(f"TwiML must have a <Response> root, not <{root.tag}>")
    return [_reply(verb) for verb in root if verb.tag == "Message"]


def _reply(verb: Element) -> Reply:
    bodies = [child for child in verb if child.tag == "Body"]
    media = tuple(
        (m.text or "").strip() for m in verb if m.tag == "Media" and (m.text or "").strip()
    )
    # An empty <Message> is kept: it is refused as an API create without a body would be.
    text = "".join(b.text or "" for b in bodies) if bodies else verb.text or ""
    return Reply(
        body=text.strip(),
        media_urls=media,
        to=verb.get("to"),
        from_=verb.get("from"),
        action=verb.get("action"),
        method=verb.get("method"),
    )
