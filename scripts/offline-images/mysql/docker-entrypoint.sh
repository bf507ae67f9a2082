#!/usr/bin/env bash
# Entrypoint of the offline mysql:8.4 stand-in (MariaDB 10.11 from Debian).
# It follows the official mysql image's contract (env vars, *_FILE secrets, first-start init,
# /docker-entrypoint-initdb.d, privilege drop, mysqld as PID 1) so compose files and tests
# written for mysql:8.4 run unchanged.
set -eo pipefail
shopt -s nullglob

mysql_log() {
	local type="$1"; shift
	local text="$*"; if [ "$#" -eq 0 ]; then text="$(cat)"; fi
	printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$type" "$text"
}
mysql_note() { mysql_log Note "$@"; }
mysql_warn() { mysql_log Warn "$@" >&2; }
mysql_error() { mysql_log ERROR "$@" >&2; exit 1; }

# file_env VAR [DEFAULT]: VAR may come from the file named by VAR_FILE (docker/compose secrets).
file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}"
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		mysql_error "Both $var and $fileVar are set (but are exclusive)"
	fi
	local val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!fileVar:-}" ]; then
		[ -r "${!fileVar}" ] || mysql_error "$fileVar: cannot read ${!fileVar}"
		val="$(< "${!fileVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar"
}

# SQL string literal body: passwords may contain quotes or backslashes.
sql_escape() {
	local s="${1//\\/\\\\}"
	printf '%s' "${s//\'/\\\'}"
}

# Options that print something and exit must not trigger initialisation.
_want_help() {
	local arg
	for arg; do
		case "$arg" in -'?'|--help|--print-defaults|-V|--version) return 0 ;; esac
	done
	return 1
}

# Value of a server option after all config files and the given arguments.
mysql_get_config() {
	local conf="$1"; shift
	"$@" --verbose --help 2>/dev/null \
		| awk -v conf="$conf" '$1 == conf && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

mysql_check_config() {
	local errors
	if ! errors="$("$@" --verbose --help 2>&1 >/dev/null)"; then
		mysql_error $'mysqld failed while attempting to check config\n\tcommand was: '"$* --verbose --help"$'\n\t'"$errors"
	fi
}

docker_setup_env() {
	declare -g DATADIR SOCKET DATABASE_ALREADY_EXISTS
	DATADIR="$(mysql_get_config 'datadir' "$@")"
	DATADIR="${DATADIR%/}"
	SOCKET="$(mysql_get_config 'socket' "$@")"

	file_env 'MYSQL_ROOT_HOST' '%'
	file_env 'MYSQL_DATABASE'
	file_env 'MYSQL_USER'
	file_env 'MYSQL_PASSWORD'
	file_env 'MYSQL_ROOT_PASSWORD'
	file_env 'MYSQL_ALLOW_EMPTY_PASSWORD'
	file_env 'MYSQL_RANDOM_ROOT_PASSWORD'

	DATABASE_ALREADY_EXISTS=
	if [ -d "$DATADIR/mysql" ]; then
		DATABASE_ALREADY_EXISTS='true'
	fi
}

# Datadir, socket dir and secure-file-priv dir must belong to mysql (bind mounts arrive as root).
docker_create_db_directories() {
	local -A dirs=( ["$DATADIR"]=1 ["$(dirname "$SOCKET")"]=1 )
	local sfp; sfp="$(mysql_get_config 'secure-file-priv' "$@")"
	case "$sfp" in ''|NULL|'(No default value)') ;; *) dirs["$sfp"]=1 ;; esac
	mkdir -p "${!dirs[@]}"
	if [ "$(id -u)" = 0 ]; then
		find "${!dirs[@]}" \! -user mysql -exec chown --no-dereference mysql:mysql '{}' +
	fi
}

docker_verify_minimum_env() {
	if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
		mysql_error <<-'EOF'
			Database is uninitialized and password option is not specified
			    You need to specify one of the following as an environment variable:
			    - MYSQL_ROOT_PASSWORD
			    - MYSQL_ALLOW_EMPTY_PASSWORD
			    - MYSQL_RANDOM_ROOT_PASSWORD
		EOF
	fi
	if [ "$MYSQL_USER" = 'root' ]; then
		mysql_error <<-'EOF'
			MYSQL_USER="root", MYSQL_USER and MYSQL_PASSWORD are for configuring a regular user and cannot be used for the root user
			    Remove MYSQL_USER="root" and use one of the following to control the root user password:
			    - MYSQL_ROOT_PASSWORD
			    - MYSQL_ALLOW_EMPTY_PASSWORD
			    - MYSQL_RANDOM_ROOT_PASSWORD
		EOF
	fi
	if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then
		mysql_warn 'MYSQL_USER specified, but missing MYSQL_PASSWORD; MYSQL_USER will not be created'
	elif [ -z "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
		mysql_warn 'MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored'
	fi
}

docker_init_database_dir() {
	mysql_note "Initializing database files"
	# --auth-root-authentication-method=normal: root@localhost gets a password (set below) instead
	# of MariaDB's unix_socket login, as in MySQL. Extra server args pass through, as in the official image.
	mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve --skip-log-bin --default-time-zone=SYSTEM \
		"${@:2}" >/dev/null
	mysql_note "Database files initialized"
}

# Client options file on the fly, so the root password never shows in `ps`.
_mysql_passfile() {
	if [ "${1:-}" = '--dont-use-mysql-root-password' ] || [ -z "$MYSQL_ROOT_PASSWORD" ]; then
		return
	fi
	# option-file quoting: only backslash and double quote need escaping inside "..."
	local pw="${MYSQL_ROOT_PASSWORD//\\/\\\\}"
	printf '[client]\nuser=root\npassword="%s"\n' "${pw//\"/\\\"}"
}

# docker_process_sql [--dont-use-mysql-root-password] [mysql args]: SQL from stdin, over the socket.
docker_process_sql() {
	local passfileArgs=()
	if [ "${1:-}" = '--dont-use-mysql-root-password' ]; then
		passfileArgs+=( "$1" ); shift
	fi
	if [ -n "$MYSQL_DATABASE" ]; then
		set -- --database="$MYSQL_DATABASE" "$@"
	fi
	mysql --defaults-extra-file=<( _mysql_passfile "${passfileArgs[@]}" ) \
		--protocol=socket -uroot -hlocalhost --socket="$SOCKET" --comments "$@"
}

# The temporary server has no TCP listener (--skip-networking), so healthchecks that connect to
# 127.0.0.1 fail until the real server starts: nobody sees a half-initialised database.
docker_temp_server_start() {
	"$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --skip-log-bin \
		--loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 &
	declare -g MYSQL_TEMP_PID=$!
	# bash as PID 1 ignores SIGTERM; stop the temp server too so `docker stop` is prompt.
	trap 'mysql_warn "terminated during initialisation"; kill "$MYSQL_TEMP_PID" 2>/dev/null; wait "$MYSQL_TEMP_PID"; exit 143' TERM INT
	for _ in $(seq 1 60); do
		if docker_process_sql --dont-use-mysql-root-password --database=mysql <<<'SELECT 1' >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$MYSQL_TEMP_PID" 2>/dev/null || mysql_error "Unable to start server."
		sleep 0.5
	done
	mysql_error "Unable to start server (not ready after 30 s)."
}

docker_temp_server_stop() {
	# SIGTERM is mariadbd's normal shutdown; wait returns once it has flushed and exited.
	kill "$MYSQL_TEMP_PID"
	wait "$MYSQL_TEMP_PID" || mysql_error "Unable to shut down server."
	trap - TERM INT
}

docker_setup_db() {
	if [ -z "$MYSQL_INITDB_SKIP_TZINFO" ]; then
		# Named time zones (CONVERT_TZ(..., 'Europe/Paris')) work as in the official image.
		mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null \
			| docker_process_sql --dont-use-mysql-root-password --database=mysql
	fi
	if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
		MYSQL_ROOT_PASSWORD="$(head -c 18 /dev/urandom | base64)"; export MYSQL_ROOT_PASSWORD
		mysql_note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
	fi

	local rootPw rootCreate=
	rootPw="$(sql_escape "$MYSQL_ROOT_PASSWORD")"
	# MySQL's image has root@'%' (MYSQL_ROOT_HOST) so root can log in over TCP; with
	# skip-name-resolve a TCP login from 127.0.0.1 does not match root@localhost.
	if [ -n "$MYSQL_ROOT_HOST" ] && [ "$MYSQL_ROOT_HOST" != 'localhost' ]; then
		rootCreate="CREATE USER 'root'@'$(sql_escape "$MYSQL_ROOT_HOST")' IDENTIFIED BY '${rootPw}' ;
			GRANT ALL ON *.* TO 'root'@'$(sql_escape "$MYSQL_ROOT_HOST")' WITH GRANT OPTION ;"
	fi

	docker_process_sql --dont-use-mysql-root-password --database=mysql <<-EOSQL
		SET autocommit = 1;
		SET @@SESSION.SQL_LOG_BIN=0;
		-- mariadb-install-db also makes root@127.0.0.1, root@::1 and root@<hostname>;
		-- the official mysql image has only root@localhost and root@MYSQL_ROOT_HOST.
		DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', ''@'localhost';
		EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\', \'\'@\'', @@hostname, '\'');
		ALTER USER 'root'@'localhost' IDENTIFIED BY '${rootPw}' ;
		GRANT ALL ON *.* TO 'root'@'localhost' WITH GRANT OPTION ;
		FLUSH PRIVILEGES ;
		${rootCreate}
		DROP DATABASE IF EXISTS test ;
	EOSQL

	if [ -n "$MYSQL_DATABASE" ]; then
		mysql_note "Creating database ${MYSQL_DATABASE}"
		docker_process_sql --database=mysql <<<"CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE//\`/\`\`}\` ;"
	fi
	if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
		mysql_note "Creating user ${MYSQL_USER}"
		docker_process_sql --database=mysql <<<"CREATE USER '$(sql_escape "$MYSQL_USER")'@'%' IDENTIFIED BY '$(sql_escape "$MYSQL_PASSWORD")' ;"
		if [ -n "$MYSQL_DATABASE" ]; then
			mysql_note "Giving user ${MYSQL_USER} access to schema ${MYSQL_DATABASE}"
			# '_' is a wildcard in database-level grants; escape it as the official image does.
			local grantDb="${MYSQL_DATABASE//\`/\`\`}"
			docker_process_sql --database=mysql <<<"GRANT ALL ON \`${grantDb//_/\\_}\`.* TO '$(sql_escape "$MYSQL_USER")'@'%' ;"
		fi
	fi
}

# Decompress an init file with a tool that may not be installed (only gzip is in this image).
_decompress() {
	local tool="$1" file="$2"
	command -v "$tool" >/dev/null || mysql_error "cannot run $file: $tool is not installed in this image"
	"$tool" -dc "$file"
}

docker_process_init_files() {
	# `mysql` array kept for init scripts written for the official image ("${mysql[@]}").
	# shellcheck disable=SC2034
	mysql=( docker_process_sql )
	echo
	local f
	for f; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					mysql_note "$0: running $f"; "$f"
				else
					mysql_note "$0: sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql)     mysql_note "$0: running $f"; docker_process_sql < "$f"; echo ;;
			*.sql.gz)  mysql_note "$0: running $f"; _decompress gzip "$f" | docker_process_sql; echo ;;
			*.sql.xz)  mysql_note "$0: running $f"; _decompress xz "$f" | docker_process_sql; echo ;;
			*.sql.bz2) mysql_note "$0: running $f"; _decompress bzip2 "$f" | docker_process_sql; echo ;;
			*.sql.zst) mysql_note "$0: running $f"; _decompress zstd "$f" | docker_process_sql; echo ;;
			*)         mysql_warn "$0: ignoring $f" ;;
		esac
		echo
	done
}

mysql_expire_root_user() {
	if [ -n "$MYSQL_ONETIME_PASSWORD" ]; then
		docker_process_sql --database=mysql <<<"ALTER USER 'root'@'%' PASSWORD EXPIRE;"
	fi
}

_main() {
	if [ "${1:0:1}" = '-' ]; then
		set -- mysqld "$@"
	fi

	if { [ "$1" = 'mysqld' ] || [ "$1" = 'mariadbd' ]; } && ! _want_help "$@"; then
		mysql_note "Entrypoint script for the MySQL 8.4 stand-in ($("$1" --version)) started."
		mysql_check_config "$@"
		docker_setup_env "$@"
		docker_create_db_directories "$@"

		# Started as root: re-run this script as mysql (setpriv is util-linux's gosu), so the
		# server never runs as root and ends up as PID 1 via the final exec.
		if [ "$(id -u)" = 0 ]; then
			mysql_note "Switching to dedicated user 'mysql'"
			export HOME=/var/lib/mysql
			exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
		fi

		if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
			docker_verify_minimum_env
			# fail early on an unreadable init dir rather than with a half-initialised datadir
			ls /docker-entrypoint-initdb.d/ >/dev/null

			docker_init_database_dir "$@"

			mysql_note "Starting temporary server"
			docker_temp_server_start "$@"
			mysql_note "Temporary server started."

			docker_setup_db
			docker_process_init_files /docker-entrypoint-initdb.d/*
			mysql_expire_root_user

			mysql_note "Stopping temporary server"
			docker_temp_server_stop
			mysql_note "Temporary server stopped"
			echo
			mysql_note "MySQL init process done. Ready for start up."
			echo
		fi
	fi
	exec "$@"
}

_main "$@"
