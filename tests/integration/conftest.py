from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import pgdb
from tests.integration.listdata import Seeded, build


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """One small store shared by every list test; the tests only read it."""
    return build(tmp_path_factory.mktemp("lists") / "smsgate.db")


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[Seeded]:
    """The same store as ``seeded``, on each selected store kind."""
    path = tmp_path_factory.mktemp("lists-" + store_kind) / "smsgate.db"
    if store_kind == "sqlite":
        yield build(path)
        return
    with pgdb.database() as url:
        yield build(path, url)
