#!/bin/sh
# nginx plus a watcher that keeps its upstream equal to the replicas that answer.
# Each replica listens on its own socket in /run/polls (a shared volume). Once a second the
# watcher asks every socket's replica for /healthz, all at once and each with a timeout, so a
# hung replica never holds the watcher up. A socket accepting a connection proves nothing: the
# kernel queues connections for a frozen process too. When the set changes it rewrites the
# upstream and reloads nginx gracefully, so scaling up or down needs no file edit.
#   - a replica that answers is routed;
#   - one that refuses the connection (a leftover socket of a replica killed without cleanup)
#     or whose socket is gone (a replica stopping removes it first) is dropped at once;
#   - one that does not answer within the timeout is dropped when it misses a second probe in
#     a row: a busy machine may stall a process for a second, and every reload ends the event
#     streams of the old workers (worker_shutdown_timeout in nginx.conf). Unless no replica
#     answered in time: then the machine is starved, and slow replicas beat none.
set -eu

for tool in curl nginx; do
  command -v "$tool" >/dev/null || { echo "nginx-entrypoint: $tool is missing from the image" >&2; exit 1; }
done

SOCKETS=/run/polls
CONF=/tmp/nginx
PROBE_TIMEOUT_S=1
mkdir -p "$CONF"
# The settings nginx.conf takes from the environment: trusted proxies, limits, HTTPS, the
# unix socket for a proxy on the host.
nginx-configure

# A replica's socket is named after its container's hostname, the first 12 hex digits of its
# id. Anything else in the shared folder (a compromised replica could add sockets of its own,
# to draw traffic) is never routed to.
REPLICA_SOCKET='[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].sock'

# One line per socket: its path and "up", or "slow" when its replica did not answer in time.
# Sockets that refuse are left out.
probe_replicas() {
  for socket in "$SOCKETS"/$REPLICA_SOCKET; do
    [ -S "$socket" ] || continue
    (
      if curl --silent --fail --output /dev/null --max-time "$PROBE_TIMEOUT_S" --unix-socket "$socket" http://replica/healthz; then
        echo "$socket up"
      elif [ $? -eq 28 ]; then
        echo "$socket slow"
      fi
    ) &
  done
  wait
}

contains() {
  case " $1 " in *" $2 "*) return 0 ;; *) return 1 ;; esac
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

routed=$(probe_replicas | awk '$2 == "up" { print $1 }' | sort | xargs)
slow=""
write_upstream "$routed"
nginx -g 'daemon off;' &
nginx_pid=$!

stop() {
  nginx -s quit 2>/dev/null || true
  wait "$nginx_pid" || true
  exit 0
}
trap stop TERM INT

while kill -0 "$nginx_pid" 2>/dev/null; do
  # The probes run during the second, not after it.
  sleep 1 &
  tick=$!
  probes=$(probe_replicas)
  up=$(echo "$probes" | awk '$2 == "up" { print $1 }')
  slow_before=$slow
  slow=$(echo "$probes" | awk '$2 == "slow" { print $1 }' | sort | xargs)
  # No replica answered in time: drop none for being slow.
  [ -n "$up" ] || slow_before=""
  latest=$(
    for socket in $up; do echo "$socket"; done
    for socket in $slow; do
      if contains "$routed" "$socket" && ! contains "$slow_before" "$socket"; then echo "$socket"; fi
    done
  )
  latest=$(echo "$latest" | sort | xargs)
  if [ "$latest" != "$routed" ]; then
    write_upstream "$latest"
    if nginx -t -q 2>/dev/null && nginx -s reload; then
      echo "upstream now: $(echo "$latest" | wc -w) replica(s)${slow:+; not answering: $slow}" >&2
      routed=$latest
    fi
  fi
  wait "$tick" || true
done
# nginx died on its own: exit non-zero so the restart policy brings the container back.
exit 1
