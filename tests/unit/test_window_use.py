"""An SMPP bind's window use, averaged over time (the ``window use`` log line)."""

from __future__ import annotations

import pytest

from smsgate.connectors.smpp.session import WindowUse


def test_window_use_is_weighted_by_time_and_starts_over_at_each_report() -> None:
    t = [100.0]
    use = WindowUse(2, now=lambda: t[0])
    use.changing(0)  # 0 -> 1 in use at t=100
    t[0] = 101.0
    use.changing(1)  # 1 -> 2: one slot busy for 1 s
    t[0] = 104.0
    use.changing(2, settled=1)  # 2 -> 1: full for 3 s
    t[0] = 105.0
    report = use.take(1)  # 1 in use for the last second
    assert report.seconds == pytest.approx(5.0)
    assert report.answered == 1
    assert report.mean_in_use == pytest.approx((1 * 1 + 2 * 3 + 1 * 1) / 5)
    assert report.full_share == pytest.approx(3 / 5)

    t[0] = 107.0
    again = use.take(1)
    assert (again.seconds, again.answered) == (pytest.approx(2.0), 0)
    assert again.mean_in_use == pytest.approx(1.0) and again.full_share == 0.0
