#!/usr/bin/env bash
# Make sure a Docker Engine answers. On a Debian host as root with none answering,
# install Debian's docker.io and start dockerd in the background (log: $DOCKERD_LOG).
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/portside-dockerd.log}

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<'MSG'
portside: no Docker Engine answers (`docker info` failed).
Install Docker (https://docs.docker.com/engine/install/) and start it, or make
sure your user may talk to it (the `docker` group), then run this again.
MSG
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "portside: installing Debian's docker.io ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq docker.io >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "portside: starting dockerd (log: $DOCKERD_LOG) ..." >&2
  # In a session of its own: Ctrl-C on `make up` (or whatever kills the caller's process
  # group) must not take the Docker Engine down with it.
  setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "portside: dockerd did not answer within 60 s; see $DOCKERD_LOG" >&2
tail -n 20 "$DOCKERD_LOG" >&2 || true
exit 1
