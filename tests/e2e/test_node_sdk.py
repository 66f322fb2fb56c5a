"""twilio-node, the second official SDK, against the same server: an independent client."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.conftest import Server, Tenant

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


@pytest.fixture(scope="module")
def node_sdk() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the twilio-node tests: node and npm are required")
        pytest.skip("node/npm are not installed on this machine")
    if not (NODE_DIR / "node_modules" / "twilio").exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300
        )
    return Path(node)


def test_twilio_node_creates_lists_fetches_and_errors(
    node_sdk: Path, idle_server: Server, idle_tenant: Tenant
) -> None:
    env = {
        **os.environ,
        "SMSGATE_URL": idle_server.base_url,
        "ACCOUNT_SID": idle_tenant.sid,
        "AUTH_TOKEN": idle_tenant.token,
        "FROM": idle_tenant.number,
    }
    out = subprocess.run(
        [str(node_sdk), "smoke.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = orjson.loads(out.stdout.strip().splitlines()[-1])
    assert result["listed"] == result["created"][::-1]  # newest first, across 3 pages
    assert result["fetched"] == {
        "sid": result["created"][0],
        "body": "node 0",
        "status": "queued",
        "numSegments": "1",
    }
    assert result["error"] == {"status": 400, "code": 21606}
    assert result["sentWithKey"] == idle_tenant.sid
