#!/usr/bin/env bash
# Makes a Docker engine with Compose v2 available and running, without upgrading the host.
# Debian 12 ships docker.io 20.10 with Compose v1 only; Debian 13 "trixie" has docker.io 26
# and the Compose v2 plugin. trixie is added as a source pinned below every bookworm package,
# and only the packages named below come from it: `pkg/trixie` selects that one package's
# version, whereas `apt-get -t trixie` would raise trixie for the whole transaction and
# upgrade libc6, perl, python3 and more to Debian 13.
#   scripts/machine/docker.sh              install if missing, then start dockerd if not running
#   scripts/machine/docker.sh --no-start   install only (a container, or a host with its own init)
set -euo pipefail

for tool in apt-get awk; do
  command -v "$tool" >/dev/null || { echo "docker.sh: $tool not found: this script knows Debian hosts only" >&2; exit 1; }
done

have_engine() { command -v dockerd >/dev/null && docker compose version >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; }

if ! have_engine; then
  sources=/etc/apt/sources.list.d/debian.sources
  [ -f "$sources" ] || { echo "docker.sh: $sources not found: this script knows Debian 12 (bookworm) hosts only" >&2; exit 1; }
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$sources")
  cat > /etc/apt/sources.list.d/trixie.sources <<SRC
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat > /etc/apt/preferences.d/trixie-low <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  apt-get update -qq
  # docker-cli is its own package in trixie; containerd follows docker.io's version constraint.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io/trixie docker-cli/trixie docker-compose/trixie docker-buildx/trixie >/dev/null
fi

[ "${1:-}" = --no-start ] && exit 0

if ! docker info >/dev/null 2>&1; then
  dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
fi
docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
docker compose version
