#!/usr/bin/env bash
# Makes dynalite (a DynamoDB emulator on LevelDB, from the npm registry)
# available for `make bench-scale`: moto takes minutes per 100,000 items,
# dynalite writes and scans a million-SIM table in minutes and reports
# ConsumedCapacity as DynamoDB computes it. Installed with the machine's
# npm into .cache/dynalite at a pinned version; prints the path of the
# executable. Fails with instructions when npm cannot install it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# renovate: datasource=npm depName=dynalite
DYNALITE_VERSION=4.0.0
dir=${DYNALITE_DIR:-$root/.cache/dynalite}
bin="$dir/node_modules/.bin/dynalite"
if [ -n "${DYNALITE:-}" ] && [ -x "$DYNALITE" ]; then echo "$DYNALITE"; exit 0; fi
if [ -x "$bin" ] && grep -q "\"version\": \"$DYNALITE_VERSION\"" "$dir/node_modules/dynalite/package.json" 2>/dev/null; then
	echo "$bin"
	exit 0
fi
command -v npm >/dev/null 2>&1 || {
	echo "dynalite needs Node.js and npm (apt-get install nodejs npm), or set DYNALITE to a dynalite executable." >&2
	exit 1
}
echo "installing dynalite@$DYNALITE_VERSION into $dir" >&2
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --silent "dynalite@$DYNALITE_VERSION" >&2 || {
	echo "Could not install dynalite@$DYNALITE_VERSION with npm. Install it yourself (npm install dynalite@$DYNALITE_VERSION) and set DYNALITE to its executable." >&2
	exit 1
}
echo "$bin"
