#!/usr/bin/env bash
# Make sure a Docker registry binary is installed: ECR's image store (Debian's
# docker-registry, the CNCF distribution server). On a Debian host as root without one,
# install it. Portside runs its own registry process per control plane, so the system
# service the package brings is neither started nor left running.
set -euo pipefail

if command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ]; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<'MSG'
portside: no `docker-registry` found (ECR needs it).
Install the distribution registry 2.8 (Debian and Ubuntu: `apt-get install docker-registry`),
then run this again.
MSG
  exit 1
fi

echo "portside: installing Debian's docker-registry ..." >&2
bash "$(dirname "$0")/apt-install.sh" docker-registry
