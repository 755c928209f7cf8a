#!/usr/bin/env bash
# Installs what the WebRTC interop tests run besides Tandem: a Python venv at
# .venv (in the repository root) holding aiortc, a real WebRTC stack, and numpy,
# which the test peer Tests/Interop/aiortc_peer.py uses to analyse the audio, and
# websockets, with which Tests/Interop/chromium_peer.py drives headless Chromium
# (the chromium Debian package: scripts/install-deps.sh test).
#   scripts/install-interop.sh          create .venv if missing, install the pinned packages
#   PYTHON=python3.12 scripts/install-interop.sh   use another interpreter for the venv
# Idempotent: does nothing but say so when the pinned versions are already there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"

# Versions known to install and pass Tests/Interop/selftest.py together.
# aiortc does not depend on numpy, and the peer needs it. The stack under aiortc
# (ICE, libav, libsrtp, OpenSSL bindings) is pinned too, so every machine runs the same.
# websockets drives headless Chromium over the DevTools protocol (Tests/Interop/chromium_peer.py).
packages=(aiortc==1.16.0 aioice==0.13.0 av==18.1.0 pylibsrtp==1.0.0 pyOpenSSL==26.4.0 cryptography==50.0.2 numpy==2.4.6 websockets==17.4 prometheus-client==0.26.0)

if ! command -v "$python" >/dev/null 2>&1; then
    echo "interop: $python not found; install Python 3.10 or later (Debian: apt-get install python3 python3-venv)" >&2
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "interop: creating $venv with $("$python" --version 2>&1)"
    if ! "$python" -m venv "$venv"; then
        echo "interop: could not create the venv; on Debian install python3-venv (apt-get install python3-venv)" >&2
        exit 1
    fi
else
    echo "interop: using existing $venv ($("$venv/bin/python" --version 2>&1))"
fi

if "$venv/bin/python" - "${packages[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
for spec in sys.argv[1:]:
    name, wanted = spec.split("==")
    try:
        if version(name) != wanted:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
import aiortc, numpy, av, websockets  # importable, not only recorded
PY
then
    echo "interop: already installed: ${packages[*]}"
    exit 0
fi

echo "interop: installing ${packages[*]} into $venv"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check "${packages[@]}"; then
    echo "interop: pip could not install ${packages[*]}; see the messages above (is PyPI reachable?)" >&2
    exit 1
fi
echo "interop: installed: $("$venv/bin/python" -m pip freeze --disable-pip-version-check | grep -iE '^(aiortc|aioice|av|numpy|pylibsrtp|pyopenssl|cryptography|websockets)==' | tr '\n' ' ')"
