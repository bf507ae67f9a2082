#!/usr/bin/env bash
# Deploys the stack, or a new version of it, to the Docker Swarm cluster that `docker` talks
# to (a manager: DOCKER_HOST or a docker context). README, "Beyond one host".
#
#   scripts/swarm-deploy.sh [STACK]              # STACK defaults to polls
#   POLLS_VERSION=1.4 scripts/swarm-deploy.sh    # a new app image, rolled one task at a time
#   scripts/swarm-deploy.sh --render             # print the stack file, deploy nothing
#   scripts/swarm-deploy.sh -f site.yml          # with a compose file of your own over both
#
# Every node needs the images (polls-app and polls-nginx at POLLS_VERSION, and MYSQL_IMAGE and
# REDIS_IMAGE as for docker compose), from a registry or `docker load`. The environment works
# as for `docker compose up`: POLLS_VERSION, APP_EXTRA_REPLICAS, POLLS_PORT, the passwords.
#
# Steps:
# 1. Swarm secrets, made on the first deploy from what scripts/init-secrets.ts generates (or
#    the values the environment supplies), in the app image, on the manager; the files pass
#    through a private temporary folder here and are deleted. Swarm secrets never change in
#    place, so later deploys keep them.
# 2. The stack file: docker-compose.yml with deploy/swarm.yml over it, rendered by
#    `docker compose config`, so the single-host file stays the one definition.
# 3. `docker stack deploy`, which waits until every service has converged.
set -euo pipefail

fail() { echo "swarm-deploy: $*" >&2; exit 1; }
command -v docker >/dev/null || fail "needs docker, not found on this machine"
docker compose version >/dev/null 2>&1 || fail "needs the Docker Compose plugin (docker compose), to render the stack file"

render=false
stack=polls
files=(-f docker-compose.yml -f deploy/swarm.yml)
while [ $# -gt 0 ]; do
  case "$1" in
    --render) render=true ;;
    -f | --file)
      [ $# -ge 2 ] || fail "$1 needs a file"
      [ -f "$2" ] || fail "no file $2"
      files+=(-f "$(realpath "$2")")
      shift
      ;;
    -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) fail "unknown option $1 (--help shows the usage)" ;;
    *) stack=$1 ;;
  esac
  shift
done

# Files named on the command line are resolved above, before this.
cd "$(dirname "$0")/.."

# Two things of compose's output `docker stack deploy` refuses: the top-level name (the stack's
# name comes from its command line) and a published port written as a string.
stack_file() {
  POLLS_STACK=$stack docker compose -p "$stack" "${files[@]}" config \
    | sed -e '/^name: /d' -e 's/^\( *published: \)"\([0-9]*\)"$/\1\2/'
}
if $render; then stack_file; exit 0; fi

[ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ] \
  || fail "the Docker engine docker talks to is not a Swarm manager (docker swarm init, or DOCKER_HOST / docker context use)"

# The secrets deploy/swarm.yml names, each from one file of init-secrets' layout.
declare -A secret_files=(
  [mysql_root_password]=mysql/root_password
  [mysql_app_password]=mysql/app_password
  [mysql_migrator_password]=mysql/migrator_password
  [redis_users.acl]=redis/users.acl
  [migrate_database_url]=migrate/database_url
  [app_database_url]=app/database_url
  [app_redis_url]=app/redis_url
  [app_session_secret]=app/session_secret
)
missing=()
for name in "${!secret_files[@]}"; do
  docker secret inspect "${stack}_$name" >/dev/null 2>&1 || missing+=("$name")
done
if [ "${#missing[@]}" -eq "${#secret_files[@]}" ]; then
  echo "swarm-deploy: making the stack's secrets"
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  docker run --rm --network none \
    -e MYSQL_ROOT_PASSWORD -e MYSQL_APP_PASSWORD -e MYSQL_MIGRATOR_PASSWORD -e REDIS_PASSWORD -e SESSION_SECRET \
    --entrypoint sh "polls-app:${POLLS_VERSION:-latest}" \
    -c 'node dist/scripts/init-secrets.js /tmp/secrets >/dev/null && tar -C /tmp/secrets -c .' | tar -x -C "$dir"
  for name in "${!secret_files[@]}"; do
    docker secret create --label "com.docker.stack.namespace=$stack" "${stack}_$name" "$dir/${secret_files[$name]}" >/dev/null
  done
  rm -rf "$dir"
elif [ "${#missing[@]}" -gt 0 ]; then
  fail "some of the stack's secrets exist and others (${missing[*]}) do not: they must come from one run of init-secrets, as the passwords in them must agree. Remove the others (docker secret rm) and deploy again, or create the missing ones by hand."
fi

file=$(mktemp)
trap 'rm -f "$file"' EXIT
stack_file > "$file"
docker stack deploy --detach=false --prune -c "$file" "$stack"
