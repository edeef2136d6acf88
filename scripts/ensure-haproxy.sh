#!/usr/bin/env bash
# Make sure an HAProxy binary is installed: the load balancers' data plane. On a Debian host
# as root without one, install Debian's haproxy. Portside runs its own HAProxy processes, so
# the system service the package brings is neither started nor left running.
set -euo pipefail

if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<'MSG'
portside: no `haproxy` found (load balancers need it).
Install HAProxy 2.6 or later (Debian and Ubuntu: `apt-get install haproxy`), then run this
again.
MSG
  exit 1
fi

echo "portside: installing Debian's haproxy ..." >&2
bash "$(dirname "$0")/apt-install.sh" haproxy
