"""MMS media and message feedback: the rules, with no I/O.

A message's ``MediaUrl``s are fetched by the worker before the message goes to the carrier
(inbound ones when the message arrives). Each fetched file is kept once, named by the SHA-256
of its content, and each message that carries it has a Media resource (``ME…``) pointing at
that content. Content types and size limits are Twilio's (seed 001, "Accepted Content Types
for Media"): 5 MB for jpeg/jpg/png/gif, 500 KB for the other accepted types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from smsgate.errors import BadRequest

MB = 1024 * 1024
KB = 1024
IMAGE_LIMIT = 5 * MB
OTHER_LIMIT = 500 * KB
MAX_REDIRECTS = 5

# Fully supported by Twilio (formatted for the handset): up to IMAGE_LIMIT.
IMAGE_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/gif"})
# Accepted by Twilio's API as they are: up to OTHER_LIMIT.
OTHER_TYPES = frozenset(
    {
        "audio/basic", "audio/l24", "audio/mp4", "audio/mpeg", "audio/ogg", "audio/vorbis",
        "audio/vnd.rn-realaudio", "audio/vnd.wave", "audio/3gpp", "audio/3gpp2", "audio/ac3",
        "audio/webm", "audio/amr-nb", "audio/amr", "audio/aac",
        "video/mpeg", "video/mp4", "video/quicktime", "video/webm", "video/3gpp", "video/3gpp2",
        "video/3gpp-tt", "video/h261", "video/h263", "video/h263-1998", "video/h263-2000",
        "video/h264",
        "image/bmp", "image/tiff",
        "text/vcard", "text/x-vcard", "text/csv", "text/rtf", "text/richtext", "text/calendar",
        "text/directory",
        "application/pdf", "application/vcard", "application/vnd.apple.pkpass",
        "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }
)  # fmt: skip

# Twilio's codes for media that cannot be used (the message fails with one of them).
RETRIEVAL_FAILURE = 11200
TOO_MANY_REDIRECTS = 11215
INVALID_CONTENT_TYPE = 12300
TOO_LARGE = 30019

MEDIA_ERRORS = {
    RETRIEVAL_FAILURE: "HTTP retrieval failure",
    TOO_MANY_REDIRECTS: "HTTP too many redirects",
    INVALID_CONTENT_TYPE: "Invalid Content-Type",
    TOO_LARGE: "Content size exceeds carrier limit",
}

FEEDBACK_OUTCOMES = ("confirmed", "unconfirmed")


class MediaProblem(Exception):
    """A media URL that cannot be used: Twilio's ``code`` and a description for the log."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def media_type(header: str | None) -> str:
    """The bare, lower-case media type of a ``Content-Type`` header (parameters dropped)."""
    return (header or "").split(";", 1)[0].strip().lower()


def size_limit(content_type: str) -> int | None:
    """The largest file of this type Twilio accepts, or None when the type is not accepted."""
    if content_type in IMAGE_TYPES:
        return IMAGE_LIMIT
    if content_type in OTHER_TYPES:
        return OTHER_LIMIT
    return None


def check_type(content_type: str) -> int:
    """The size limit for ``content_type``; raises MediaProblem (12300) if not accepted."""
    limit = size_limit(content_type)
    if limit is None:
        raise MediaProblem(
            INVALID_CONTENT_TYPE, f"content type {content_type or '(none)'!r} is not accepted"
        )
    return limit


def too_large(size: int, limit: int) -> MediaProblem:
    return MediaProblem(TOO_LARGE, f"{size} bytes or more; the limit for this type is {limit}")


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A fetched file written to the staging area, not yet part of the store.

    ``path`` is removed by whoever staged it once the store has taken it (or given up)."""

    url: str
    path: Path
    digest: str  # SHA-256 of the content, hex
    size: int
    content_type: str


@dataclass(frozen=True, slots=True)
class Media:
    """One Media resource: a message's reference to stored content."""

    sid: str
    account_sid: str
    message_sid: str
    content_type: str
    digest: str
    size: int
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class Feedback:
    """A message's MessageFeedback: whether the recipient did what the message asked."""

    account_sid: str
    message_sid: str
    outcome: str
    date_created: datetime
    date_updated: datetime


def media_uri(m: Media) -> str:
    """Where a Media's content is served (its resource URI without a suffix)."""
    return f"/2010-04-01/Accounts/{m.account_sid}/Messages/{m.message_sid}/Media/{m.sid}"


def check_outcome(outcome: str | None) -> str:
    if outcome not in FEEDBACK_OUTCOMES:
        raise BadRequest(
            f"Outcome must be one of {', '.join(FEEDBACK_OUTCOMES)}; got '{outcome or ''}'",
            code=20001,
        )
    return outcome
