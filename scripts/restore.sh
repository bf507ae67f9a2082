#!/usr/bin/env bash
# Loads a backup made by scripts/backup.sh into a stack and brings the stack up on it.
#
#   scripts/restore.sh [COMPOSE OPTIONS] [--force] BACKUP
#
#   BACKUP           a file backup.sh wrote (gzip-compressed when its name ends in .gz)
#   --force          replace a database that already holds users or polls
#   COMPOSE OPTIONS  -p/--project-name, -f/--file, --env-file, --project-directory, passed to
#                    docker compose as given; COMPOSE_PROJECT_NAME and COMPOSE_FILE work too.
#                    Run it where you run docker compose for the stack.
#
# Meant for a fresh stack: a new project, or one just started from nothing. In order, it
#   - starts what it needs (secrets, MySQL, Redis), with the stack's own secrets;
#   - refuses a backup whose schema is newer than this code's migrations, or none of them;
#   - refuses a database that already holds users or polls, unless --force;
#   - stops the app replicas, replaces the database with the backup, and empties Redis
#     (sessions name users by id, so everyone logs in again);
#   - runs `docker compose up -d`: the migrate service brings an older backup's schema up to
#     this code's, and the app replicas start on the restored data.
# shellcheck disable=SC2016 # $NAME in single quotes is the mysql container's, expanded there
set -euo pipefail

# shellcheck source=scripts/lib/operator.sh
. "$(dirname "$0")/lib/operator.sh"
read_arguments BACKUP "--force" "$@"
backup=$operand
force=false
[ ${#switches[@]} -eq 0 ] || force=true
if [ ! -f "$backup" ] || [ ! -r "$backup" ]; then fail "cannot read $backup"; fi

read_backup() { if [[ "$backup" == *.gz ]]; then gzip -dc "$backup"; else cat "$backup"; fi; }

# backup.sh writes its header first and the dump tool's completion line last.
version=$(read_backup | sed -n '1,5s/^-- polls-schema-version: \([0-9][0-9]*\)$/\1/p') || fail "cannot read $backup (see above)"
[ -n "$version" ] || fail "$backup is not a backup made by scripts/backup.sh (no polls-schema-version line at its top)"
read_backup | tail -n 1 | grep -q '^-- Dump completed' || fail "$backup is incomplete (no '-- Dump completed' line at its end)"


query() { in_mysql "mysql -uroot -N -B -e \"$1\" \"\$MYSQL_DATABASE\""; }

echo "restore.sh: starting MySQL and Redis"
compose up -d --wait mysql redis \
  || fail "MySQL and Redis did not start (see above; docker compose logs secrets-check mysql says why)"

# The app image's migrations are the ones the migrate service applies.
schema=$(compose run --rm --no-deps -T migrate node dist/scripts/schema-version.js "$version") \
  || fail "refused (see above); nothing was changed"

tables=$(query "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
count() { if grep -qx "$1" <<<"$tables"; then query "SELECT COUNT(*) FROM $1"; else echo 0; fi; }
users=$(count users)
polls=$(count polls)
if [ "$users" != 0 ] || [ "$polls" != 0 ]; then
  $force || fail "the database already holds $users users and $polls polls, which restoring would replace. Restore into a fresh stack (another project: -p NAME), or pass --force to replace them."
  echo "restore.sh: replacing $users users and $polls polls (--force)"
fi

echo "restore.sh: stopping the app replicas and loading $backup"
compose stop app
in_mysql 'mysql -uroot -e "DROP DATABASE IF EXISTS \`$MYSQL_DATABASE\`; CREATE DATABASE \`$MYSQL_DATABASE\`"' \
  || fail "cannot empty the database (see above); the app replicas are stopped"
read_backup | in_mysql 'exec mysql -uroot "$MYSQL_DATABASE"' \
  || fail "loading $backup failed (see above): the database holds part of it and the app replicas are stopped. Fix the cause and run restore.sh again with --force."
compose exec -T redis sh -c 'REDISCLI_AUTH=$(cat /run/secrets/polls/password) redis-cli --no-auth-warning --user polls FLUSHALL' >/dev/null || fail "cannot empty Redis (see above); the app replicas are stopped"

case "$schema" in
  current*) echo "restore.sh: the backup's schema is this code's (${schema#current })" ;;
  older*) echo "restore.sh: the backup's schema is older; the migrate service applies: ${schema#older * }" ;;
esac
compose up -d --wait || fail "the stack did not come up on the restored data (see above; docker compose logs migrate app says why)"
echo "restore.sh: restored $(query 'SELECT COUNT(*) FROM users') users, $(query 'SELECT COUNT(*) FROM polls') polls and $(query 'SELECT COUNT(*) FROM ballots') ballots from $backup"
