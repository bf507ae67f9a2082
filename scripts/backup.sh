#!/usr/bin/env bash
# Writes a consistent dump of the stack's MySQL database while the stack serves traffic.
#
#   scripts/backup.sh [COMPOSE OPTIONS] OUTPUT
#
#   OUTPUT           the file to write (gzip-compressed when its name ends in .gz), or an
#                    existing folder, which gets polls-<UTC time>.sql.gz
#   COMPOSE OPTIONS  -p/--project-name, -f/--file, --env-file, --project-directory, passed to
#                    docker compose as given; COMPOSE_PROJECT_NAME and COMPOSE_FILE work too.
#                    Run it where you run docker compose for the stack.
#
# The dump is one transaction's snapshot (--single-transaction): every ballot acknowledged
# before the backup started is in it, and every vote count matches its ballots. It holds the
# polls database and nothing else: its tables, including __drizzle_migrations (the schema
# version, also written in the file's header), but no MySQL account or password, nothing of
# the secrets volume, no Redis sessions. scripts/restore.sh loads it into a fresh stack, which
# has secrets of its own. The file holds password hashes: it is created readable by you only,
# under a temporary name beside OUTPUT, and renamed to OUTPUT once complete, so OUTPUT is
# never a partial dump.
# shellcheck disable=SC2016 # $NAME in single quotes is the mysql container's, expanded there
set -euo pipefail

# shellcheck source=scripts/lib/operator.sh
. "$(dirname "$0")/lib/operator.sh"
read_arguments OUTPUT "" "$@"
output=$operand

container=$(compose ps --quiet mysql) || fail "docker compose failed (see above)"
[ -n "$container" ] || fail "no running mysql container in this compose project: start the stack, or name its project (-p) and files (-f)"
project=$(docker inspect --format '{{index .Config.Labels "com.docker.compose.project"}}' "$container")

version=$(in_mysql 'mysql -uroot -N -B -e "SELECT MAX(created_at) FROM __drizzle_migrations" "$MYSQL_DATABASE"') \
  || fail "cannot read the schema version from __drizzle_migrations (see above): has the migrate service run, and can root log in?"
[[ "$version" =~ ^[0-9]+$ ]] || fail "no schema version in __drizzle_migrations (\"$version\"): has the migrate service run?"

if [ -d "$output" ]; then output="${output%/}/polls-$(date -u +%Y%m%dT%H%M%SZ).sql.gz"; fi
partial=$(mktemp "$(dirname "$output")/.$(basename "$output").XXXXXX") || fail "cannot write beside $output"
trap 'rm -f "$partial"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

compress() { if [[ "$output" == *.gz ]]; then gzip -c; else cat; fi; }
decompress() { if [[ "$output" == *.gz ]]; then gzip -dc "$1"; else cat "$1"; fi; }

# mysqldump in the official image; the MariaDB stand-in has mariadb-dump, perhaps only that.
{
  echo "-- polls backup of compose project $project, made $(date -u +%Y-%m-%dT%H:%M:%SZ) by scripts/backup.sh"
  echo "-- polls-schema-version: $version"
  echo "-- The polls database only: no MySQL accounts or passwords, no secrets, no sessions. Load it with scripts/restore.sh."
  in_mysql 'dump=$(command -v mysqldump || command -v mariadb-dump) || { echo "the mysql container has neither mysqldump nor mariadb-dump" >&2; exit 1; }
    exec "$dump" -uroot --single-transaction --skip-lock-tables --no-tablespaces --default-character-set=utf8mb4 "$MYSQL_DATABASE"'
} | compress >"$partial" || fail "the dump failed (see above); $output was not written"

# The dump tool's last line, written only after every table.
decompress "$partial" | tail -n 1 | grep -q '^-- Dump completed' || fail "the dump ended early; $output was not written"
mv -f "$partial" "$output"
trap - EXIT
echo "backup.sh: wrote $output (compose project $project, schema version $version)"
