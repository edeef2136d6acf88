#!/usr/bin/env bash
# What the test suite needs beyond the virtualenv: Debian's AWS CLI v2 (for `aws logs tail`)
# and busybox-static (the tests build their images FROM scratch with it). Debian hosts as root
# get them installed; elsewhere the tests that need them are skipped with a reason.
set -euo pipefail

need=()
[ -x /bin/busybox ] || command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
[ -x /usr/bin/aws ] || need+=(awscli)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PostgreSQL for the store's tests on both backends (tests/pg_fixtures.py starts its own
# server in a temporary directory as an unprivileged user; the package's service is not run).
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "portside: installing Debian's postgresql ..." >&2
    bash "$(dirname "$0")/apt-install.sh" postgresql
  else
    echo "portside: no PostgreSQL found; its tests will be skipped." >&2
  fi
fi

# A real Prometheus for tests/prometheus (Debian's; skipped with a reason where absent).
bash "$(dirname "$0")/ensure-prometheus.sh"
