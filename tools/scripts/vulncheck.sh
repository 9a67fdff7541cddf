#!/usr/bin/env bash
# make vulncheck: govulncheck over every module; fails when the code can
# reach a known vulnerability (in a dependency or in the standard library)
# that tools/scripts/vulncheck.allow does not explain (tools/cmd/vulngate
# decides; an allow entry no longer reached fails too).
#
# The vulnerability database: vuln.go.dev is not reachable everywhere (CI
# and the development machines only reach the Go module proxy), so by
# default it is built from the Go team's own reports, golang.org/x/vulndb
# at VULNDB_VERSION, fetched through the module proxy and indexed with that
# module's cmd/indexdb into .cache/vulndb/<version> (once). Renovate moves
# VULNDB_VERSION forward; GOVULNDB=https://vuln.go.dev (or any database URL)
# uses that database instead.
#
# The standard library scanned is the one the images ship: the scan runs with
# the Go toolchain of the Dockerfile's GO_VERSION (the go command fetches it
# through the module proxy when the local one differs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
GO=${GO:-go}
# renovate: datasource=go depName=golang.org/x/vuln
GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.9.0}
# renovate: datasource=go depName=golang.org/x/vulndb
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
MODULES=${MODULES:-libs services/sim-poller services/provisioner services/deactivator services/onboarding-api services/vpn-gateway tools tests/e2e tests/deploy}

go_version=$(sed -n 's/^ARG GO_VERSION=//p' "$root/deployments/docker/Dockerfile")
[ -n "$go_version" ] || { echo "vulncheck: no ARG GO_VERSION in deployments/docker/Dockerfile" >&2; exit 1; }

# Outside the workspace: tools are fetched at their own pinned versions.
offtree() { (cd "${TMPDIR:-/tmp}" && GOWORK=off "$@"); }

db=${GOVULNDB:-}
if [ -z "$db" ]; then
	cache="${VULNDB_CACHE:-$root/.cache/vulndb}/$VULNDB_VERSION"
	if [ ! -s "$cache/index/db.json" ]; then
		echo "vulncheck: building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION (module proxy)" >&2
		if ! src=$(offtree "$GO" mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || [ -z "$src" ]; then
			echo "vulncheck: cannot fetch golang.org/x/vulndb@$VULNDB_VERSION through the Go module proxy;" >&2
			echo "  set GOVULNDB to a reachable database (https://vuln.go.dev) or VULNDB_VERSION to a version the proxy serves." >&2
			exit 1
		fi
		mkdir -p "${cache%/*}"
		tmp=$(mktemp -d "${cache%/*}/.tmp.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		if ! offtree "$GO" run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$tmp/db"; then
			echo "vulncheck: indexing golang.org/x/vulndb@$VULNDB_VERSION failed" >&2
			exit 1
		fi
		rm -rf "$cache"
		mv "$tmp/db" "$cache"
	fi
	db="file://$cache"
fi

echo "vulncheck: govulncheck $GOVULNCHECK_VERSION, go$go_version, database $db" >&2
out=$(mktemp -d)
trap 'rm -rf "$out" ${tmp:+"$tmp"}' EXIT
reports=()
for m in $MODULES; do
	report="$out/${m//\//_}.json"
	if ! (cd "$root/$m" && GOTOOLCHAIN="go$go_version" "$GO" run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" -db "$db" -format json ./... >"$report"); then
		echo "vulncheck: govulncheck could not scan $m" >&2
		exit 1
	fi
	reports+=("$report")
done
(cd "$root" && "$GO" run ./tools/cmd/vulngate -allow "$root/tools/scripts/vulncheck.allow" "${reports[@]}")
