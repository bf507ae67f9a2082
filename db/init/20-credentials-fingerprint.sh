#!/bin/sh
# Runs once, on the MySQL container's first start (/docker-entrypoint-initdb.d), after
# 10-users.sh: records in the data volume a salted SHA-256 fingerprint of each password MySQL
# is initialised with, never a password. MySQL takes its passwords only on its first start;
# before every later start the secrets-check service compares the secrets volume with these
# (scripts/credentials-fingerprint.ts), so secrets MySQL does not know, as after losing the
# secrets volume, stop `docker compose up` with a message saying so.
# After changing a password in MySQL on purpose, run it again to record the new one:
#   docker compose run --rm --no-deps mysql sh /docker-entrypoint-initdb.d/20-credentials-fingerprint.sh
set -eu

# In the mysql-data volume, where docker-compose.yml mounts it.
fingerprints=/var/lib/mysql/polls-credentials.sha256

# The password in NAME or in the file NAME_FILE names, without trailing newlines, as the image
# reads it.
password() {
  eval "value=\${$1:-}"
  eval "file=\${$1_FILE:-}"
  if [ -z "$value" ] && [ -n "$file" ]; then value=$(cat "$file"); fi
  if [ -z "$value" ]; then echo "20-credentials-fingerprint.sh: $1 or $1_FILE must be set" >&2; exit 1; fi
  printf '%s' "$value"
}

salt=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
fingerprint() {
  value=$(password "$1")
  printf '%s%s' "$salt" "$value" | sha256sum | cut -d' ' -f1
}
root=$(fingerprint MYSQL_ROOT_PASSWORD)
app=$(fingerprint MYSQL_APP_PASSWORD)
migrator=$(fingerprint MYSQL_MIGRATOR_PASSWORD)

umask 022
cat >"$fingerprints.new" <<EOF
# sha256(salt + password) of the passwords MySQL knows (db/init/20-credentials-fingerprint.sh)
salt $salt
root_password $root
app_password $app
migrator_password $migrator
EOF
mv "$fingerprints.new" "$fingerprints"
echo "20-credentials-fingerprint.sh: recorded the fingerprints of the MySQL passwords in $fingerprints"
