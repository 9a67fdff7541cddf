#!/usr/bin/env bash
# Makes moto_server (the AWS emulator) available: the one on PATH, else one
# in .venv, installing moto[server] there with pip. Fails with instructions
# when neither works; the tests never skip for want of it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${MOTO_SERVER:-}" ] && [ -x "$MOTO_SERVER" ]; then exit 0; fi
if command -v moto_server >/dev/null 2>&1; then exit 0; fi
if [ -x "$root/.venv/bin/moto_server" ]; then exit 0; fi
echo "moto_server not found; installing moto[server] into $root/.venv" >&2
python3 -m venv "$root/.venv"
if ! "$root/.venv/bin/pip" install --quiet 'moto[server]'; then
	echo "Could not install moto[server]. Install it yourself (pip install 'moto[server]') or set MOTO_SERVER to its path." >&2
	exit 1
fi
