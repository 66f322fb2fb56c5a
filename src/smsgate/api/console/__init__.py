"""The web console at ``/console``: server-rendered pages (Jinja2) over the same services the
API uses, with a small script for live updates (Server-Sent Events). See docs/console.md."""

from smsgate.api.console.app import build_console

__all__ = ["build_console"]
