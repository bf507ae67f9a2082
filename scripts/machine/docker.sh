#!/usr/bin/env bash
# Makes a Docker engine with Compose v2 available and running.
# Debian 12 ships docker.io 20.10 with Compose v1 only; Debian 13 has docker.io 26 and the
# Compose v2 plugin, so trixie is added at a low pin priority and used for these packages
# alone. docker.io is named explicitly: trixie's docker-compose pulls in only the client.
set -euo pipefail

have_engine() { command -v dockerd >/dev/null && docker compose version >/dev/null 2>&1; }

if ! have_engine; then
  sources=/etc/apt/sources.list.d/debian.sources
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
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie docker.io docker-compose >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
fi
docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
docker compose version
