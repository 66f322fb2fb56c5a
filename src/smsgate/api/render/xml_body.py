"""The XML representation of the 2010-04-01 API: ``<TwilioResponse>`` documents.

Twilio's XML names every field in CamelCase (``date_created`` → ``<DateCreated>``), writes
``null`` as an empty element (``<DateSent/>``), nests objects (``<SubresourceUris>``), and puts
a list's paging information in attributes of the list element, named without underscores
(``first_page_uri`` → ``firstpageuri``; ``null`` → ``""``).

Documents are built with ElementTree, which is used here only to *write* XML (parsing untrusted
XML goes through defusedxml elsewhere).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

CONTENT_TYPE = "application/xml; charset=utf-8"
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# Element names that are not the plain CamelCase of their JSON key.
_NAMES = {"sms": "SMS", "mms": "MMS"}
# Characters XML 1.0 cannot carry at all, escaped or not (a body may hold them).
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def element_name(key: str) -> str:
    """``date_created`` → ``DateCreated``; ``from`` → ``From``; ``sms`` → ``SMS``."""
    if key in _NAMES:
        return _NAMES[key]
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def attribute_name(key: str) -> str:
    """``first_page_uri`` → ``firstpageuri``, as Twilio names list paging attributes."""
    return key.replace("_", "")


def text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return _INVALID.sub("\ufffd", str(value))


def _fill(parent: ET.Element, fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        child = ET.SubElement(parent, element_name(key))
        if isinstance(value, Mapping):
            _fill(child, value)
        elif isinstance(value, list | tuple):
            singular = element_name(key)[:-1] if key.endswith("s") else element_name(key)
            for item in value:
                ET.SubElement(child, singular).text = text(item)
        elif value is not None:
            child.text = text(value)


def _document(root: ET.Element) -> bytes:
    return _DECLARATION + ET.tostring(root, encoding="unicode").encode("utf-8")


def instance(element: str, fields: Mapping[str, Any]) -> bytes:
    """``<TwilioResponse><Element>…fields…</Element></TwilioResponse>``."""
    root = ET.Element("TwilioResponse")
    _fill(ET.SubElement(root, element), fields)
    return _document(root)


def listing(
    list_element: str,
    item_element: str,
    items: Sequence[Mapping[str, Any]],
    paging: Mapping[str, Any],
) -> bytes:
    """A list element with paging attributes and one item element per item."""
    root = ET.Element("TwilioResponse")
    attrs = {attribute_name(k): text(v) for k, v in paging.items()}
    holder = ET.SubElement(root, list_element, attrs)
    for item in items:
        _fill(ET.SubElement(holder, item_element), item)
    return _document(root)


def rest_exception(code: int, message: str, more_info: str, status: int) -> bytes:
    """Twilio's XML error: ``<RestException>`` with Code, Message, MoreInfo and Status."""
    return instance(
        "RestException",
        {"code": code, "message": message, "more_info": more_info, "status": status},
    )
