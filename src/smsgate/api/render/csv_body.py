"""The CSV representation of 2010-04-01 resources: a header row, then one row per item.

Columns are the resource's fields named as in the XML (``DateCreated``); nested objects
(``subresource_uris``, ``capabilities``) have no column. ``null`` is an empty cell and
booleans are ``true``/``false``. Lines end in CRLF (RFC 4180).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from smsgate.api.render.xml_body import element_name, text

CONTENT_TYPE = "text/csv; charset=utf-8"


def columns(fields: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys of a resource's fields that become columns (nested objects do not)."""
    return tuple(k for k, v in fields.items() if not isinstance(v, Mapping | list | tuple))


def header(keys: Sequence[str]) -> bytes:
    return rows(keys, [{k: element_name(k) for k in keys}])


def rows(keys: Sequence[str], items: Iterable[Mapping[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for item in items:
        writer.writerow([text(item.get(k)) for k in keys])
    return out.getvalue().encode("utf-8")
