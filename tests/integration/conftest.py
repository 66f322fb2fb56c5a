from __future__ import annotations

import pytest

from tests.integration.listdata import Seeded, build


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """One small store shared by every list test; the tests only read it."""
    return build(tmp_path_factory.mktemp("lists") / "smsgate.db")
