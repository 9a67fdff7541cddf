#!/usr/bin/env bash
# Makes Debian's nginx available for `make bench-onboarding`, which compares
# vpn-gateway with nginx configured as 1NCE's reference. Installs it with
# apt-get when missing and running as root; otherwise fails with instructions.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi
echo "installing nginx (the reference proxy the benchmark compares with)" >&2
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "Cannot install nginx: run as root on Debian/Ubuntu, or install it yourself (apt-get install nginx)." >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx >/dev/null; }; then
	echo "apt-get could not install nginx; install it yourself (apt-get install nginx)." >&2
	exit 1
fi
