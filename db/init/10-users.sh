#!/bin/sh
# Runs once, on the MySQL container's first start (/docker-entrypoint-initdb.d), after the
# image has created MYSQL_DATABASE. Creates the two accounts the service uses:
#   polls_app       data statements only: what the running service may do;
#   polls_migrator  schema changes too: what `npm run db:migrate` needs.
# Passwords come from MYSQL_APP_PASSWORD / MYSQL_MIGRATOR_PASSWORD or their *_FILE forms.
set -eu

secret() {
  name=$1
  eval "value=\${$name:-}"
  eval "file=\${${name}_FILE:-}"
  if [ -n "$file" ]; then value=$(cat "$file"); fi
  if [ -z "$value" ]; then echo "10-users.sh: $name or ${name}_FILE must be set" >&2; exit 1; fi
  # Quote for a SQL string literal.
  printf '%s' "$value" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/''/g"
}

app_password=$(secret MYSQL_APP_PASSWORD)
migrator_password=$(secret MYSQL_MIGRATOR_PASSWORD)
root_password=${MYSQL_ROOT_PASSWORD:-$(cat "${MYSQL_ROOT_PASSWORD_FILE:-/dev/null}")}
database=${MYSQL_DATABASE:?MYSQL_DATABASE must be set}

mysql --protocol=socket -uroot -p"$root_password" <<SQL
CREATE USER IF NOT EXISTS 'polls_app'@'%' IDENTIFIED BY '$app_password';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$database\`.* TO 'polls_app'@'%';
CREATE USER IF NOT EXISTS 'polls_migrator'@'%' IDENTIFIED BY '$migrator_password';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, INDEX, REFERENCES ON \`$database\`.* TO 'polls_migrator'@'%';
FLUSH PRIVILEGES;
SQL
