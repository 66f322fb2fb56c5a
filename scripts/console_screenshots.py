"""Photograph the console's main views into docs/console/*.png (run by scripts/screenshots).

Starts ``smsgate serve`` on a fresh data dir and a free loopback port, gives it a little
traffic through the official SDK and the simulator (with a local webhook that answers with
TwiML), then saves each view with headless chromium through Playwright.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright
from twilio.rest import Client

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "console"
CHROMIUM = os.environ.get("SMSGATE_CHROMIUM", "/usr/bin/chromium")
SMSGATE = str(Path(sys.executable).parent / "smsgate")
PHONE, FRIEND = "+15558675310", "+14155550123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def twiml_server() -> str:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = b"<Response><Message>Thanks! Your table for 2 is booked.</Message></Response>"
            self.send_response(200)
            self.send_header("content-type", "text/xml")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/sms"


def wait(predicate, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if got := predicate():
            return got
        time.sleep(0.05)
    raise SystemExit("timed out waiting for the server")


def healthy(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz").status_code == 200
    except httpx.TransportError:
        return False


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [
                SMSGATE,
                "serve",
                "--data-dir",
                f"{tmp}/data",
                "--port",
                str(port),
                "--simulator-delay",
                "0.3",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            shoot(proc, base)
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def shoot(proc: subprocess.Popen[str], base: str) -> None:
    banner = ""
    assert proc.stdout is not None
    while "Test number" not in banner:
        banner += proc.stdout.readline()
    sid, token = re.search(r"Account SID : (AC\w+)\s+Auth token  : (\w+)", banner).groups()  # type: ignore[union-attr]
    wait(lambda: healthy(base))
    client = Client(sid, token)
    client.api.base_url = base
    ours = client.incoming_phone_numbers.create(phone_number="+15017122661", friendly_name="Bistro")
    ours.update(sms_url=twiml_server())
    sent = [
        client.messages.create(to=PHONE, from_=ours.phone_number, body="Your code is 482913"),
        client.messages.create(
            to=FRIEND, from_=ours.phone_number, body="Réservation confirmée ✓ — à ce soir 🍷"
        ),
        client.messages.create(
            to="+15005550012", from_=ours.phone_number, body="Filtered by the carrier"
        ),
        client.messages.create(
            to=PHONE, from_=ours.phone_number, body="Reminder: {table} for 2 at 8pm [Bistro]"
        ),
    ]
    httpx.post(
        base + "/simulator/inbound",
        auth=(sid, token),
        data={"From": PHONE, "To": ours.phone_number, "Body": "Can I book a table for 2 tonight?"},
    )
    wait(
        lambda: all(client.messages(m.sid).fetch().status in ("delivered", "failed") for m in sent)
    )
    wait(lambda: len(client.messages.list(to=PHONE, from_=ours.phone_number)) >= 3)
    time.sleep(1)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 760})
        page.goto(base + "/console/login")
        page.screenshot(path=str(OUT / "login.png"))
        page.get_by_label("Account SID or API key SID").fill(sid)
        page.get_by_label("Auth Token or key secret").fill(token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#live-state")).to_have_text("● live")
        page.screenshot(path=str(OUT / "messages.png"))
        page.goto(f"{base}/console/{sid}/messages/{sent[1].sid}")
        page.screenshot(path=str(OUT / "message.png"), full_page=True)
        q = f"ours=%2B{ours.phone_number[1:]}&theirs=%2B{PHONE[1:]}"
        page.goto(f"{base}/console/{sid}/thread?{q}")
        page.screenshot(path=str(OUT / "conversation.png"), full_page=True)
        page.goto(f"{base}/console/{sid}/numbers")
        page.screenshot(path=str(OUT / "numbers.png"))
        small = browser.new_page(viewport={"width": 375, "height": 740})
        small.context.add_cookies(page.context.cookies())
        small.goto(f"{base}/console/{sid}/messages")
        small.screenshot(path=str(OUT / "messages-375.png"))
        browser.close()
    for shot in sorted(OUT.glob("*.png")):
        print(shot.relative_to(ROOT))


if __name__ == "__main__":
    main()
