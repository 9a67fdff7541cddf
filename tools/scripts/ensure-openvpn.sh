#!/usr/bin/env bash
# Makes Debian's openvpn and iproute2 available for vpn-gateway's tunnel tests
# (a real OpenVPN server in a network namespace). Installs them with apt-get
# when missing and running as root; otherwise fails with instructions, since
# the tests never skip for want of them.
set -euo pipefail
missing=()
command -v openvpn >/dev/null 2>&1 || [ -x /usr/sbin/openvpn ] || missing+=(openvpn)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} (needed by the OpenVPN tunnel tests)" >&2
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "Cannot install ${missing[*]}: run as root on Debian/Ubuntu, or install them yourself (apt-get install openvpn iproute2)." >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
	echo "apt-get could not install ${missing[*]}; install them yourself (apt-get install openvpn iproute2)." >&2
	exit 1
fi
