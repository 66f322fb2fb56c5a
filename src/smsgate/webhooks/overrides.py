"""Twilio's webhook connection overrides, given in the URL fragment.

``https://example.com/cb#ct=1000&rt=2000&tt=5000&rc=3&rp=all`` sets the connect timeout,
read timeout and total time (milliseconds), the retry count and the retry policy. The
fragment is never sent to the receiver; a URL without one uses the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urldefrag

RETRY_POLICIES = ("all", "ct", "rt", "4xx", "5xx")


class OverrideError(ValueError):
    """A fragment parameter is out of range (Twilio logs these as error 11243)."""


@dataclass(frozen=True, slots=True)
class Overrides:
    connect_timeout_ms: int = 5000
    read_timeout_ms: int = 15000
    total_timeout_ms: int = 15000
    retry_count: int = 1
    retry_policy: tuple[str, ...] = ("ct",)


_RANGES = {
    "ct": ("connect_timeout_ms", 100, 10000),
    "rt": ("read_timeout_ms", 100, 15000),
    "tt": ("total_timeout_ms", 100, 15000),
    "rc": ("retry_count", 0, 5),
}


@lru_cache(maxsize=1024)
def split(url: str, default: Overrides | None = None) -> tuple[str, Overrides]:
    """The URL to request (without its fragment) and the overrides its fragment names.

    Cached: callbacks go to a few URLs thousands of times a second (an OverrideError is
    not cached, and is raised again for the same URL)."""
    base, fragment = urldefrag(url)
    d = default or Overrides()
    ints: dict[str, int] = {}
    policy = d.retry_policy
    for key, raw in parse_qsl(fragment, keep_blank_values=True):
        if key in _RANGES:
            name, low, high = _RANGES[key]
            if not raw.isdigit() or not low <= int(raw) <= high:
                raise OverrideError(f"#{key}={raw} must be an integer from {low} to {high}")
            ints[name] = int(raw)
        elif key == "rp":
            policy = tuple(p for p in raw.split(",") if p)
            if not policy or any(p not in RETRY_POLICIES for p in policy):
                raise OverrideError(f"#rp={raw} must be a list of {', '.join(RETRY_POLICIES)}")
    return base, Overrides(
        connect_timeout_ms=ints.get("connect_timeout_ms", d.connect_timeout_ms),
        read_timeout_ms=ints.get("read_timeout_ms", d.read_timeout_ms),
        total_timeout_ms=ints.get("total_timeout_ms", d.total_timeout_ms),
        retry_count=ints.get("retry_count", d.retry_count),
        retry_policy=policy,
    )
