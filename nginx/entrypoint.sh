#!/bin/sh
# nginx plus a watcher that keeps its upstream equal to the live app replicas.
# Each replica listens on its own socket in /run/polls (a shared volume). Once a second the
# watcher lists the sockets, keeps those that accept a connection (a replica killed without
# cleanup leaves a dead socket file behind), and when the set changed rewrites the upstream
# and reloads nginx gracefully. Scaling up or down therefore needs no file edit.
set -eu

SOCKETS=/run/polls
CONF=/tmp/nginx
mkdir -p "$CONF"

live_sockets() {
  for socket in "$SOCKETS"/*.sock; do
    [ -S "$socket" ] && nc -zU "$socket" 2>/dev/null && echo "$socket"
  done | sort
}

write_upstream() {
  {
    echo "upstream polls_app {"
    if [ -n "$1" ]; then
      for socket in $1; do echo "  server unix:$socket;"; done
    else
      # nginx needs one server; with none live, requests get the JSON 503.
      echo "  server unix:$SOCKETS/none.sock down;"
    fi
    echo "  keepalive 32;"
    echo "}"
  } > "$CONF/upstream.conf.new"
  mv "$CONF/upstream.conf.new" "$CONF/upstream.conf"
}

current=$(live_sockets)
write_upstream "$current"
nginx -g 'daemon off;' &
nginx_pid=$!

stop() {
  nginx -s quit 2>/dev/null || true
  wait "$nginx_pid" || true
  exit 0
}
trap stop TERM INT

while kill -0 "$nginx_pid" 2>/dev/null; do
  sleep 1 &
  wait $! || true
  latest=$(live_sockets)
  if [ "$latest" != "$current" ]; then
    write_upstream "$latest"
    if nginx -t -q 2>/dev/null && nginx -s reload; then
      echo "upstream now: $(echo "$latest" | wc -w) replica(s)" >&2
      current=$latest
    fi
  fi
done
# nginx died on its own: exit non-zero so the restart policy brings the container back.
exit 1
