"""Settings: flags over environment over defaults; unknown SMSGATE_* only warn."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsgate.config import ConfigError, Settings, load_settings


def test_defaults() -> None:
    settings, warnings = load_settings({}, {})
    assert settings == Settings()
    assert warnings == []
    assert settings.sqlite_path == Path("data/smsgate.db")


def test_environment_then_flags() -> None:
    env = {"SMSGATE_PORT": "9000", "SMSGATE_DATA_DIR": "/tmp/x", "SMSGATE_BOOTSTRAP": "false"}
    settings, _ = load_settings({}, env)
    assert (settings.port, settings.data_dir, settings.bootstrap) == (9000, Path("/tmp/x"), False)
    settings, _ = load_settings({"port": "9100", "bootstrap": True}, env)
    assert (settings.port, settings.bootstrap) == (9100, True)


def test_unknown_variables_warn() -> None:
    _, warnings = load_settings({}, {"SMSGATE_WHATEVER": "1", "OTHER": "x"})
    assert warnings == ["ignoring unknown environment variable SMSGATE_WHATEVER"]


@pytest.mark.parametrize(
    "env",
    [
        {"SMSGATE_PORT": "eighty"},
        {"SMSGATE_PORT": "70000"},
        {"SMSGATE_BOOTSTRAP": "perhaps"},
        {"SMSGATE_LOG_LEVEL": "loud"},
        {"SMSGATE_MAX_BODY_BYTES": "10"},
    ],
)
def test_bad_values_raise(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings({}, env)


def test_database_url_picks_the_sqlite_file() -> None:
    settings, _ = load_settings({"database_url": "sqlite:////var/lib/smsgate.db"}, {})
    assert settings.sqlite_path == Path("/var/lib/smsgate.db")
    settings, _ = load_settings({"database_url": "postgresql://localhost/x"}, {})
    assert settings.sqlite_path is None
