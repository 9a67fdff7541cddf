#!/usr/bin/env bash
# make vulncheck: govulncheck over every module; fails when the code can
# reach a known vulnerability (in a dependency or in the standard library)
# that tools/scripts/vulncheck.allow does not explain (tools/cmd/vulngate
# decides; an allow entry no longer reached fails too).
#
# The vulnerability database: vuln.go.dev is not reachable everywhere (CI
# and the development machines only reach the Go module proxy), so by
# default it is built from the Go team's own reports, golang.org/x/vulndb,
# fetched through the module proxy and indexed with that module's
# cmd/indexdb into .cache/vulndb/<version> (once per version).
# GOVULNDB=https://vuln.go.dev (or any database URL) uses that instead.
#
# govulncheck's and the database's versions are pinned in
# tools/vulncheck/go.mod (tool directives), checksummed by its go.sum and
# moved forward by Renovate like every other dependency.
#
# The standard library scanned is the one the images ship: the scan runs with
# the Go toolchain of the Dockerfile's GO_VERSION (the go command fetches it
# through the module proxy when the local one differs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
GO=${GO:-go}
MODULES=${MODULES:-libs libs/testkit services/sim-poller services/provisioner services/deactivator services/onboarding-api services/vpn-gateway tools tests/e2e tests/deploy}
pins="$root/tools/vulncheck"

go_version=$(sed -n 's/^ARG GO_VERSION=//p' "$root/deployments/docker/Dockerfile")
[ -n "$go_version" ] || { echo "vulncheck: no ARG GO_VERSION in deployments/docker/Dockerfile" >&2; exit 1; }

# The pinned tools' module, outside the workspace.
pinned() { (cd "$pins" && GOWORK=off "$@"); }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

db=${GOVULNDB:-}
if [ -z "$db" ]; then
	version=$(pinned "$GO" list -m -f '{{.Version}}' golang.org/x/vulndb)
	cache="${VULNDB_CACHE:-$root/.cache/vulndb}/$version"
	if [ ! -s "$cache/index/db.json" ]; then
		echo "vulncheck: building the vulnerability database from golang.org/x/vulndb@$version (module proxy)" >&2
		if ! pinned "$GO" mod download golang.org/x/vulndb; then
			echo "vulncheck: cannot fetch golang.org/x/vulndb@$version through the Go module proxy;" >&2
			echo "  set GOVULNDB to a reachable database (https://vuln.go.dev)." >&2
			exit 1
		fi
		src=$(pinned "$GO" list -m -f '{{.Dir}}' golang.org/x/vulndb)
		if ! pinned "$GO" tool indexdb -vulns "$src/data/osv" -out "$out/db"; then
			echo "vulncheck: indexing golang.org/x/vulndb@$version failed" >&2
			exit 1
		fi
		mkdir -p "${cache%/*}"
		rm -rf "$cache"
		mv "$out/db" "$cache"
	fi
	db="file://$cache"
fi
pinned "$GO" build -o "$out/govulncheck" golang.org/x/vuln/cmd/govulncheck
govulncheck_version=$(pinned "$GO" list -m -f '{{.Version}}' golang.org/x/vuln)

echo "vulncheck: govulncheck $govulncheck_version, go$go_version, database $db" >&2
reports=()
for m in $MODULES; do
	report="$out/${m//\//_}.json"
	if ! (cd "$root/$m" && GOTOOLCHAIN="go$go_version" "$out/govulncheck" -db "$db" -format json ./... >"$report"); then
		echo "vulncheck: govulncheck could not scan $m" >&2
		exit 1
	fi
	reports+=("$report")
done
(cd "$root" && "$GO" run ./tools/cmd/vulngate -allow "$root/tools/scripts/vulncheck.allow" "${reports[@]}")
