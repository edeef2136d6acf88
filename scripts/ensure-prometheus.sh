#!/usr/bin/env bash
# Make sure a Prometheus server binary is installed: the tests start one of their own (in a
# temporary directory, on a free port) to check Portside's HTTP service discovery and its
# /metrics. On a Debian host as root without one, install Debian's prometheus; the system
# service the package brings is neither started nor left running. Elsewhere the tests that
# need it are skipped with a reason.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ]; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "portside: no \`prometheus\` found; its tests will be skipped." >&2
  exit 0
fi

echo "portside: installing Debian's prometheus ..." >&2
bash "$(dirname "$0")/apt-install.sh" prometheus
