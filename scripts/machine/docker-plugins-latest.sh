#!/usr/bin/env bash
# Makes the current Compose and buildx CLI plugins available beside the engine that docker.sh
# installs (trixie: Compose 2.26, buildx 0.13), in a private folder to use as DOCKER_CONFIG,
# and prints that folder:
#
#   cfg=$(bash scripts/machine/docker-plugins-latest.sh)     # default /opt/docker-latest
#   DOCKER_CONFIG=$cfg docker compose version                # 2.40.x; without it: 2.26
#
# The plugins come from Debian's forky suite through a throwaway apt configuration (its own
# sources, lists and cache in a temporary folder; the machine's own mirror): `apt-get download`
# and `dpkg-deb -x`, so the host's apt sources, preferences, package lists and installed
# packages stay as they were. The engine is not touched; only the CLI plugins are newer.
# Already there at the expected versions: nothing is downloaded.
#
# DOCKER_LATEST_DIR  the folder (default /opt/docker-latest)
# COMPOSE_SERIES, BUILDX_SERIES  the versions expected from the suite (default 2.40, 0.29)
# PLUGINS_SUITE      the Debian suite to take them from (default forky)
# DEBIAN_MIRROR      the mirror (default: the machine's own, from its apt sources)
#
# Note: a DOCKER_CONFIG folder replaces ~/.docker for the CLI (config.json, contexts and
# buildx's state are read from it); DOCKER_HOST still chooses the engine.
set -euo pipefail

dest="${DOCKER_LATEST_DIR:-/opt/docker-latest}"
compose_series="${COMPOSE_SERIES:-2.40}"
buildx_series="${BUILDX_SERIES:-0.29}"
suite="${PLUGINS_SUITE:-forky}"

log() { printf 'docker-plugins-latest: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

missing=()
for cmd in apt-get dpkg dpkg-deb docker awk find sha256sum mktemp flock install; do
  command -v "$cmd" >/dev/null || missing+=("$cmd")
done
[ ${#missing[@]} -eq 0 ] || die "missing command(s): ${missing[*]} (a Debian host with a Docker CLI is expected; scripts/machine/docker.sh installs one)"

# "2.40.3" from `docker compose version --short`; "0.29.1+ds1" from `docker buildx version`.
compose_version() { DOCKER_CONFIG="$1" docker compose version --short 2>/dev/null | sed 's/^v//'; }
buildx_version() { DOCKER_CONFIG="$1" docker buildx version 2>/dev/null | awk '{print $2}' | sed 's/^v//'; }
in_series() { [[ "$1" == "$2".* ]]; }
installed() {
  [ -x "$dest/cli-plugins/docker-compose" ] && [ -x "$dest/cli-plugins/docker-buildx" ] &&
    in_series "$(compose_version "$dest")" "$compose_series" &&
    in_series "$(buildx_version "$dest")" "$buildx_series"
}

mkdir -p "$dest/cli-plugins"
# One run at a time per folder (CI and a developer may share the machine).
exec 9>"$dest/.lock"
flock 9

if installed; then
  log "already there: compose $(compose_version "$dest"), buildx $(buildx_version "$dest") in $dest/cli-plugins"
  echo "$dest"
  exit 0
fi

# The machine's own mirror (never a hard-coded host): the first non-security URI of its apt
# sources, deb822 or one-line format.
mirror="${DEBIAN_MIRROR:-}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  signed_by=$(awk '/^Signed-By:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  [ -n "$signed_by" ] && [ -f "$signed_by" ] && keyring="$signed_by"
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { if ($i !~ /security/) { print $i; exit } else break } }' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list; set DEBIAN_MIRROR"
[ -f "$keyring" ] || die "$keyring not found (package debian-archive-keyring)"

# What must stay as it was: the host's apt configuration.
etc_apt_fingerprint() { find /etc/apt -printf '%p %y %m %s\n' | sort; find /etc/apt -type f -exec sha256sum {} + | sort; }
etc_apt_before=$(etc_apt_fingerprint)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sources" "$work/preferences" "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
# Check-Valid-Until: forky's Release file on the mirror can be older than apt accepts; this
# source is read for two downloads, signatures are still checked.
cat > "$work/sources/$suite.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $suite
Components: main
Signed-By: $keyring
Check-Valid-Until: no
SRC
# apt fetches as the unprivileged _apt user where it exists: let it write the downloads.
if getent passwd _apt >/dev/null; then chown _apt "$work/debs"; fi
chmod 755 "$work" "$work/debs"

# The host's apt.conf.d still applies (proxies, mirrors); sources, preferences, lists and
# cache are all the temporary folder's. The dpkg database is only read.
apt_private=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$work/sources"
  -o "Dir::Etc::Preferences=/dev/null"
  -o "Dir::Etc::PreferencesParts=$work/preferences"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::State::extended_states=$work/extended_states"
  -o "Dir::Cache=$work/cache"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
  -o "Acquire::Languages=none"
)

log "reading $suite from $mirror (private apt lists in $work)"
apt-get "${apt_private[@]}" -qq update >&2
(cd "$work/debs" && apt-get "${apt_private[@]}" -qq download docker-compose docker-buildx >&2)

for deb in "$work"/debs/*.deb; do
  # shellcheck disable=SC2016 # dpkg's format, not the shell's
  log "$(dpkg-deb -W --showformat '${Package} ${Version}' "$deb")"
  dpkg-deb -x "$deb" "$work/root"
done
for plugin in docker-compose docker-buildx; do
  [ -x "$work/root/usr/libexec/docker/cli-plugins/$plugin" ] || die "$plugin: not in the downloaded package (expected usr/libexec/docker/cli-plugins/$plugin)"
done

# Checked before they replace anything: a suite that moved on fails here, naming what it has.
staged="$work/config"
mkdir -p "$staged/cli-plugins"
cp "$work"/root/usr/libexec/docker/cli-plugins/* "$staged/cli-plugins/"
got_compose=$(compose_version "$staged")
got_buildx=$(buildx_version "$staged")
in_series "$got_compose" "$compose_series" || die "$suite has Compose '$got_compose', expected $compose_series.x (set COMPOSE_SERIES to accept it)"
in_series "$got_buildx" "$buildx_series" || die "$suite has buildx '$got_buildx', expected $buildx_series.x (set BUILDX_SERIES to accept it)"

# Each file replaced by a rename, so a docker command running meanwhile sees the old or the new one.
for file in "$staged"/cli-plugins/*; do
  name=$(basename "$file")
  install -m 0755 "$file" "$dest/cli-plugins/.$name.new"
  mv -f "$dest/cli-plugins/.$name.new" "$dest/cli-plugins/$name"
done
# shellcheck disable=SC2016 # dpkg's format, not the shell's
for deb in "$work"/debs/*.deb; do dpkg-deb -W --showformat '${Package} ${Version}\n' "$deb"; done > "$dest/VERSIONS"

[ "$(etc_apt_fingerprint)" = "$etc_apt_before" ] || die "/etc/apt changed while this ran (not by this script's apt calls, which use private paths): check it"
installed || die "installed in $dest but DOCKER_CONFIG=$dest docker compose/buildx do not report $compose_series.x/$buildx_series.x"
log "compose $(compose_version "$dest"), buildx $(buildx_version "$dest") in $dest/cli-plugins; the default CLI keeps compose $(docker compose version --short 2>/dev/null || echo none)"
echo "$dest"
