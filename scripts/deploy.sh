#!/usr/bin/env bash
# Applies a new app image or a changed setting to the running stack without failing a request.
#
#   scripts/deploy.sh [--build] [--timeout SECONDS] [COMPOSE OPTIONS...]
#
#   scripts/deploy.sh --build                     # the code in this folder, as a new image
#   LOG_LEVEL=debug scripts/deploy.sh             # a changed setting (or edit .env, then deploy)
#   POLLS_VERSION=1.4 scripts/deploy.sh --build   # a new version, built as polls-app:1.4
#   scripts/deploy.sh --env-file prod.env -f docker-compose.yml -f prod.yml -p polls
#
#   --build      build the app image first (`docker compose build app`)
#   --timeout S  how long the new replicas get to be healthy and routed by nginx (default 120)
#   COMPOSE OPTIONS are passed to every `docker compose` call (-f, --env-file, -p,
#   --project-directory, --profile); COMPOSE_FILE, COMPOSE_PROJECT_NAME and .env work as
#   they do for `docker compose up`. Needs only Docker with its Compose plugin.
#
# Steps (docker-rollout's approach): build if asked; run the one-shot services secrets,
# secrets-check and migrate with the new config while the old replicas serve (so every
# migration must work with the code already running: README, "Deploying a change"); start
# APP_REPLICAS new replicas beside the old ones; wait until each is healthy and nginx has
# routed a request to it; stop the old ones (each removes its socket, finishes what it is
# serving and exits 0), remove them; bring the autorestart watcher to the new config. nginx
# and Redis keep running throughout, and MySQL unless its own settings changed as well. If the
# new replicas are not healthy and routed within the timeout they are removed, the old ones
# keep serving, and the exit status is 1.

set -euo pipefail

command -v docker >/dev/null || { echo "deploy.sh: needs docker, not found on this machine" >&2; exit 1; }
docker compose version >/dev/null 2>&1 || { echo "deploy.sh: needs the Docker Compose plugin (docker compose)" >&2; exit 1; }

say() { echo "deploy: $*"; }
fail() { echo "deploy: $*" >&2; exit 1; }
usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; }

build=false
timeout=120
compose_options=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=true ;;
    --timeout) [ $# -ge 2 ] || fail "--timeout needs a number of seconds"; timeout=$2; shift ;;
    --timeout=*) timeout=${1#--timeout=} ;;
    -h | --help) usage; exit 0 ;;
    *) compose_options+=("$1") ;;
  esac
  shift
done
[[ "$timeout" =~ ^[0-9]+$ ]] || fail "--timeout takes a whole number of seconds, not '$timeout'"

compose() { docker compose "${compose_options[@]}" "$@"; }

nginx=$(compose ps -q nginx)
[ -n "$nginx" ] || fail "nginx is not running: start the stack with docker compose up -d first"
[ -n "$(compose ps -q app)" ] || fail "no app replica is running: start the stack with docker compose up -d first"
# Every replica now, running or not: all of them make way for the new ones.
mapfile -t old < <(compose ps -aq app)
# `docker compose config` renders deploy.replicas, the count APP_REPLICAS sets, as "replicas": N.
replicas=$(compose config --format json app | sed -n 's/^ *"replicas": *\([0-9][0-9]*\).*/\1/p' | head -n 1)
replicas=${replicas:-1}

if $build; then
  say "building the app image"
  compose build app
fi

# Every `up` below must leave the services it is not about alone: MySQL recreated is an
# outage. Compose 2.30 and later leave depends_on out of a container's config hash, so
# --no-deps does it. Before 2.30, --no-deps changes the hash (the next plain `up` would
# recreate the container), so each service comes up with its dependencies, one at a time and
# in order, once those already match the new config: a recreated service makes Compose 2.26
# recreate everything that depends on it.
only_named=()
compose_version=$(docker compose version --short)
compose_version=${compose_version#v}
minor=${compose_version#*.}
minor=${minor%%.*}
if [ "${compose_version%%.*}" -gt 2 ] || [ "$minor" -ge 30 ]; then only_named=(--no-deps); fi

for service in secrets secrets-check migrate; do
  say "running $service with the new config"
  compose up -d --no-build "${only_named[@]}" "$service" || fail "$service could not start (is the image built? --build builds it); the running replicas are unchanged"
  exit_code=$(docker wait "$(compose ps -aq "$service")")
  if [ "$exit_code" != 0 ]; then
    compose logs --no-log-prefix --tail 30 "$service" >&2 || true
    fail "$service exited with status $exit_code; the running replicas are unchanged"
  fi
done

# Until the old replicas are told to stop (which empties $new), a failure or an interruption
# removes the new ones again.
new=()
remove_new_replicas_on_failure() {
  local status=$?
  [ "$status" != 0 ] && [ "${#new[@]}" -gt 0 ] || return 0
  echo "deploy: removing the new replicas; the old ones keep serving" >&2
  docker stop "${new[@]}" >/dev/null 2>&1 || true
  # A replica caught between two starts of its restart loop may refuse a plain rm: force it,
  # and check that none is left.
  local left=("${new[@]}") attempt container
  for attempt in 1 2 3 4 5; do
    docker rm -f "${left[@]}" >/dev/null 2>&1 || true
    local still=()
    for container in "${left[@]}"; do
      if docker inspect "$container" >/dev/null 2>&1; then still+=("$container"); fi
    done
    [ "${#still[@]}" -gt 0 ] || return 0
    left=("${still[@]}")
    [ "$attempt" -lt 5 ] && sleep 1
  done
  echo "deploy: could not remove the new replicas ${left[*]}; remove them with docker rm -f" >&2
}
trap remove_new_replicas_on_failure EXIT
trap 'exit 130' INT TERM

say "starting $replicas new replicas beside the ${#old[@]} old ones"
# --no-recreate: the old replicas stay as they are, and only the count grows (before Compose
# 2.30 the one-shots run again too, unchanged, as on every `up`).
scaled=true
total=$((${#old[@]} + replicas))
compose up -d --no-build --no-recreate "${only_named[@]}" --scale "app=$total" app || scaled=false
mapfile -t new < <(compose ps -aq app | grep -vxF "$(printf '%s\n' "${old[@]}")")
$scaled || fail "docker compose could not start the new replicas"
[ "${#new[@]}" -gt 0 ] || fail "docker compose started no new replica"

deadline=$((SECONDS + timeout))
states() { docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "${new[@]}" | sed 's/^\///'; }
until [ "$(states | grep -c ' running healthy$' || true)" -eq "$replicas" ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "deploy: the last lines of ${new[0]:0:12}'s log:" >&2
    docker logs --tail 20 "${new[0]}" >&2 || true
    fail "the new replicas were not healthy within ${timeout}s: $(states | tr '\n' ';')"
  fi
  sleep 1
done

# Each replica listens on /run/polls/<its hostname>.sock (docker-compose.yml), and nginx's
# access log names the socket that served each request in its `upstream` field. The requests
# are made inside the nginx container, with the curl its entrypoint probes replicas with, so
# this works wherever nginx is published. Prints the hostnames among $hosts that served none of a burst.
mapfile -t hosts < <(docker inspect -f '{{.Config.Hostname}}' "${new[@]}")
unrouted() {
  local marker="deploy-$$-$RANDOM" burst since served
  burst=$((4 * $(compose ps -q app | wc -l)))
  since=$(($(date +%s) - 10))
  docker exec "$nginx" sh -c 'i=0; while [ "$i" -lt "$1" ]; do i=$((i + 1)); curl -s -o /dev/null -m 5 -H "X-Request-Id: $2-$i" http://127.0.0.1:8080/api/auth/me; done' \
    probe "$burst" "$marker" || true
  # nginx writes its access log out once a second.
  sleep 2
  served=$(docker logs --since "$since" "$nginx" 2>/dev/null | grep -F "\"request_id\":\"$marker-" || true)
  for host in "${hosts[@]}"; do
    case "$served" in *"unix:/run/polls/$host.sock"*) ;; *) echo "$host" ;; esac
  done
}
until missing=$(unrouted); [ -z "$missing" ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "nginx did not route to every new replica within ${timeout}s (none served: $(echo "$missing" | tr '\n' ' '))"
done

say "stopping the ${#old[@]} old replicas: each drains, then exits"
new=()
# `docker stop` sends the stop signal and waits up to the service's stop_grace_period. It is
# an operator's stop, so the autorestart watcher leaves these containers alone.
docker stop "${old[@]}" >/dev/null
for id in "${old[@]}"; do
  exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
  [ "$exit_code" = 0 ] || echo "deploy: warning: old replica $(docker inspect -f '{{.Name}}' "$id" | sed 's/^\///') exited with $exit_code, not 0: it may have cut requests short" >&2
done
docker rm "${old[@]}" >/dev/null

# The watcher runs from the app image too; left out when someone scaled it to 0.
if [ -n "$(compose ps -q autorestart)" ]; then
  say "bringing the autorestart watcher to the new config"
  compose up -d --no-build autorestart
fi

running=$(compose ps -q app | wc -l)
[ "$running" -eq "$replicas" ] || fail "expected $replicas replicas at the end, found $running"
say "done in ${SECONDS}s: $replicas replicas of the new config"
