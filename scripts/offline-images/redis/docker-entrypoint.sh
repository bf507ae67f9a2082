#!/usr/bin/env bash
# Entrypoint of the offline redis:7.4 stand-in (Redis 7.0 from Debian), following the official
# image's contract: options or a *.conf as first argument mean redis-server, the server runs as
# user redis with /data as its working dir, and protected mode is off.
set -e

# `docker run IMAGE --appendonly yes` or `docker run IMAGE /etc/redis.conf`
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

# Started as root: give /data (e.g. a fresh bind mount) to redis and re-run this script as redis
# (setpriv is util-linux's gosu), so redis-server ends up as PID 1 without root.
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

if [ "$1" = 'redis-server' ]; then
	# The official image builds Redis with protected mode off, because containers are only
	# reachable where ports are published or networks shared. Debian's build defaults to on,
	# which refuses clients from other containers while no password is set, so turn it off here
	# unless the user's config file or arguments decide.
	conf=
	case "${2:-}" in
		'' | -*) ;;
		*) conf="$2" ;;
	esac
	want_flag=1
	if [ -n "$conf" ] && [ -f "$conf" ] && grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$conf"; then
		want_flag=
	fi
	for arg in "$@"; do
		[ "$arg" = '--protected-mode' ] && want_flag=
	done
	if [ "$conf" = '-' ]; then
		want_flag= # config from stdin: leave it alone
	fi
	if [ -n "$want_flag" ]; then
		# right after the config file (redis-server requires it first); later user args still win
		if [ -n "$conf" ]; then
			set -- redis-server "$conf" --protected-mode no "${@:3}"
		else
			set -- redis-server --protected-mode no "${@:2}"
		fi
	fi

	# files written by redis (RDB, AOF) private to it, unless the user chose a umask
	if [ "$(umask)" = '0022' ]; then
		umask 0077
	fi
fi

exec "$@"
