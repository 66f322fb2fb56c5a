# Sourced by the other scripts: make .venv and install smsgate into it when pyproject changes.
# PYTHON may name the interpreter (3.11 or newer); EXTRAS the optional dependency groups.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
EXTRAS="${EXTRAS:-}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "smsgate needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=".venv/.smsgate-install-$(sha256sum pyproject.toml | cut -c1-16)${EXTRAS:+-$EXTRAS}"
if [ ! -e "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".${EXTRAS:+[$EXTRAS]}"
    touch "$stamp"
fi
