"""Webhook connection overrides in the URL fragment."""

from __future__ import annotations

import pytest

from smsgate.webhooks.overrides import OverrideError, Overrides, split


def test_no_fragment_uses_the_defaults() -> None:
    assert split("https://e.com/cb?x=1") == ("https://e.com/cb?x=1", Overrides())


def test_fragment_is_removed_and_read() -> None:
    url, o = split("https://e.com/cb?x=1#ct=1000&rt=2000&tt=3000&rc=3&rp=ct,rt")
    assert url == "https://e.com/cb?x=1"
    assert o == Overrides(1000, 2000, 3000, 3, ("ct", "rt"))


def test_defaults_can_be_configured() -> None:
    _, o = split("https://e.com/cb#rc=0", Overrides(retry_count=4, connect_timeout_ms=700))
    assert (o.retry_count, o.connect_timeout_ms) == (0, 700)


@pytest.mark.parametrize("fragment", ["ct=50", "rt=99999", "rc=6", "rc=x", "tt=", "rp=never"])
def test_out_of_range_values_raise(fragment: str) -> None:
    with pytest.raises(OverrideError):
        split("https://e.com/cb#" + fragment)
