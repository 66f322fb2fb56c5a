"""Media content on disk: one file per distinct content, named by its SHA-256.

Layout under the media dir (``<data dir>/media`` by default)::

    staging/<random>              a fetch in progress, or fetched and not yet stored
    ab/abcdef…                    content, under the first two hex digits of its digest

Files enter and leave the content area only inside a store write transaction (see
smsgate.store.sqlite_media), so "is this digest still referenced?" and the file's existence
are decided in one serialized order across every process writing the store. Content is
*linked* from its staged file (never moved), so a transaction that is rolled back and run
again finds the staged file still there; the stager removes it after the commit.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

STAGING = "staging"
# A staged file older than this belongs to no live fetch (a fetch is bounded by the lease).
STALE_STAGED_SECONDS = 3600.0


class BlobDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / STAGING

    def ensure(self) -> None:
        self.staging.mkdir(parents=True, exist_ok=True)

    def path_of(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def place(self, staged: Path, digest: str) -> None:
        """Make ``staged`` (already fsynced) the content of ``digest``, durably."""
        target = self.path_of(digest)
        if target.exists():
            return
        target.parent.mkdir(exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(staged, target)
        _fsync_dir(target.parent)

    def remove(self, digest: str) -> None:
        target = self.path_of(digest)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()

    def digests(self) -> list[str]:
        """Every digest with content on disk (a startup sweep lists them)."""
        found = []
        for sub in self.root.iterdir():
            if sub.is_dir() and sub.name != STAGING and len(sub.name) == 2:
                found += [f.name for f in sub.iterdir() if f.name.startswith(sub.name)]
        return found

    def sweep_staging(self, now: float | None = None) -> int:
        """Remove staged files no live fetch can own any more; how many went."""
        now = time.time() if now is None else now
        gone = 0
        for f in self.staging.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if now - f.stat().st_mtime > STALE_STAGED_SECONDS:
                    f.unlink()
                    gone += 1
        return gone


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
