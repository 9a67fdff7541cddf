#!/usr/bin/env bash
# Makes moto_server (the AWS emulator) available: the one on PATH, else one
# in .venv, installing moto[server] there with pip at the version the compose
# file's moto container runs, so local tests and docker compose emulate the
# same AWS. Fails with instructions when neither works; the tests never skip
# for want of it. A .venv this script created is removed again when the
# installation fails, so the next run does not mistake it for a working one.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# The image tag of the moto service in docker-compose.yml (tests/deploy keeps them equal).
# renovate: datasource=pypi depName=moto
MOTO_VERSION=5.2.1
venv=${VENV:-$root/.venv}
if [ -n "${MOTO_SERVER:-}" ] && [ -x "$MOTO_SERVER" ]; then exit 0; fi
if command -v moto_server >/dev/null 2>&1; then exit 0; fi
if [ -x "$venv/bin/moto_server" ]; then exit 0; fi
echo "moto_server not found; installing moto[server]==$MOTO_VERSION into $venv" >&2
created=
[ -d "$venv" ] || created=1
fail() {
	[ -n "$created" ] && rm -rf "$venv"
	echo "Could not install moto[server]==$MOTO_VERSION ($1). Install it yourself (pip install 'moto[server]==$MOTO_VERSION') or set MOTO_SERVER to its path." >&2
	exit 1
}
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv" || fail "python3 -m venv failed"
"$venv/bin/pip" install --quiet "moto[server]==$MOTO_VERSION" || fail "pip failed"
