"""URL shapes of the 2010-04-01 API: path convertors and the common prefixes.

Route modules import their prefixes from here, which also registers the convertors before
any route is compiled.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

ROOT = "/2010-04-01"
ACCOUNT = ROOT + "/Accounts/{account_sid:sid}"
V2 = "/v2"  # the v2 message search API (api/routes/search.py)


class SidConvertor(Convertor[str]):
    """A path segment that may hold a SID (validated by the handler, so bad ones 404)."""

    regex = "[A-Za-z0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class FormatConvertor(Convertor[str]):
    """The representation suffix of a 2010-04-01 path: ``.json``, ``.xml``, ``.csv`` or none."""

    regex = r"(?:\.json|\.xml|\.csv)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("sid", SidConvertor())
register_url_convertor("fmt", FormatConvertor())
