#!/usr/bin/env bash
# Makes cfn-lint (the CloudFormation linter the tests run) available: the one
# on PATH, else one in .venv, installing it there with pip. Fails with
# instructions when neither works; the lint test never skips.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${CFN_LINT:-}" ] && [ -x "$CFN_LINT" ]; then exit 0; fi
if command -v cfn-lint >/dev/null 2>&1; then exit 0; fi
if [ -x "$root/.venv/bin/cfn-lint" ]; then exit 0; fi
echo "cfn-lint not found; installing it into $root/.venv" >&2
[ -x "$root/.venv/bin/pip" ] || python3 -m venv "$root/.venv"
if ! "$root/.venv/bin/pip" install --quiet 'cfn-lint>=1.20,<2'; then
	echo "Could not install cfn-lint. Install it yourself (pip install cfn-lint) or set CFN_LINT to its path." >&2
	exit 1
fi
