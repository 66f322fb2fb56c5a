"""Reading the server's XML and CSV in tests: parsed, never compared as strings."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import httpx
from defusedxml.ElementTree import fromstring

FIXTURES = Path(__file__).parent / "fixtures"


def xml(response: httpx.Response) -> Element:
    """The ``<TwilioResponse>`` root of an XML response."""
    assert response.headers["content-type"].startswith("application/xml"), response.text
    root: Element = fromstring(response.content)
    assert root.tag == "TwilioResponse"
    return root


def fixture_xml(name: str) -> Element:
    root: Element = fromstring((FIXTURES / name).read_bytes())
    return root


def only_child(root: Element, tag: str) -> Element:
    children = list(root)
    assert [c.tag for c in children] == [tag], [c.tag for c in children]
    return children[0]


def fields(element: Element) -> dict[str, Any]:
    """Child elements as a dict: text (``""`` for an empty element), nested ones as dicts."""
    out: dict[str, Any] = {}
    for child in element:
        out[child.tag] = fields(child) if len(child) else (child.text or "")
    return out


def rest_exception(response: httpx.Response) -> dict[str, Any]:
    """The fields of an XML ``<RestException>``."""
    exc = only_child(xml(response), "RestException")
    assert [c.tag for c in exc] == ["Code", "Message", "MoreInfo", "Status"]
    return fields(exc)


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.headers["content-type"].startswith("text/csv"), response.text
    return list(csv.DictReader(io.StringIO(response.text)))
