#!/usr/bin/env bash
# Install Debian packages (as root) without starting the system services they bring:
# Portside runs its own processes of them. Usage: apt-install.sh PACKAGE...
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
# policy-rc.d answering 101 keeps the packages' maintainer scripts from starting their
# services; it is removed again whatever happens.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "$@" >/dev/null
