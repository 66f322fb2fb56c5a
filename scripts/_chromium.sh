# Sourced by scripts/test: the browser tests (tests/e2e/test_console_browser.py) drive
# Debian's chromium through Playwright (Playwright's own browser download is not used).
# Install the package when it is missing and we can (root, as CI runs); otherwise those
# tests skip and say why.
CHROMIUM="${SMSGATE_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium for the browser tests (apt-get install chromium)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } \
        || echo "could not install chromium: the browser tests will be skipped" >&2
fi
