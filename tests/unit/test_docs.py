"""The configuration reference must name every setting, so the docs cannot drift."""

from __future__ import annotations

from pathlib import Path

from smsgate.config import setting_names

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for name in setting_names():
        assert f"`SMSGATE_{name.upper()}`" in text, name
        assert f"`--{name.replace('_', '-')}" in text, name
