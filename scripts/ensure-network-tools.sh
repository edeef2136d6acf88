#!/usr/bin/env bash
# The host tools the agent's task networking uses: iptables (security groups, in Portside's
# own chains), iproute2's `ip` and `bridge` and nftables' `nft` (a subnet spanning hosts over
# VXLAN). Debian hosts as root get the missing ones installed; elsewhere the agent says what
# it lacks when a feature needs it.
set -euo pipefail

need=()
command -v iptables-restore >/dev/null 2>&1 || need+=(iptables)
command -v ip >/dev/null 2>&1 && command -v bridge >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  bash "$(dirname "$0")/apt-install.sh" "${need[@]}"
fi
