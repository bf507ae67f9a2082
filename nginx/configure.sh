#!/bin/sh
# Writes what nginx.conf takes from the environment into /tmp/nginx, before nginx starts
# (nginx-entrypoint runs it). Stops with a message naming the setting when one is wrong, so the
# container's log says why nginx did not start.
#   settings.conf        the trusted proxies, the API's request rate, the HTTPS port (http{})
#   api-limits.conf      the API's limits per client address (its locations)
#   stream-limits.conf   the event streams' (their location)
#   https.conf           nginx/https.conf when a certificate is mounted, else nothing (server{})
#   host-socket.conf     a listen on the host folder's socket when compose.socket.yml mounts
#                        the folder, else nothing (server{})
set -eu

CONF=/tmp/nginx
TLS_DIR=/etc/nginx/tls
HOST_SOCKET_DIR=/run/polls-front
HOST_SOCKET=$HOST_SOCKET_DIR/polls.sock
mkdir -p "$CONF"

fail() {
  echo "nginx-configure: $*" >&2
  exit 1
}

# The value of the variable named $1, or $2 when it is empty; a whole number above 0.
count() {
  eval "value=\${$1:-$2}"
  case $value in
    '' | *[!0-9]* | 0) fail "$1 must be a whole number above 0, not '$value'" ;;
  esac
  echo "$value"
}

# The defaults are for people, a room of them behind one address included, and far below what
# the stack serves (README, "Limits").
requests_per_second=$(count NGINX_REQUESTS_PER_SECOND_PER_ADDRESS 50)
request_burst=$(count NGINX_REQUEST_BURST_PER_ADDRESS 500)
requests_at_once=$(count NGINX_REQUESTS_AT_ONCE_PER_ADDRESS 100)
streams=$(count NGINX_STREAMS_PER_ADDRESS 300)

# Addresses or CIDRs, separated by commas or spaces.
trusted_proxies=$(echo "${TRUSTED_PROXIES:-}" | tr ',' ' ' | xargs)
for proxy in $trusted_proxies; do
  case $proxy in
    *[!0-9A-Fa-f:./]* | */*/* | /* | */) fail "TRUSTED_PROXIES: '$proxy' is not an IP address or a CIDR" ;;
  esac
done

https=off
https_port_suffix=""
if [ -d "$TLS_DIR" ]; then
  for file in fullchain.pem privkey.pem; do
    [ -r "$TLS_DIR/$file" ] || fail "HTTPS: $file is missing from TLS_DIR, or nginx (uid $(id -u), group $(id -g)) may not read it; README, \"HTTPS\""
  done
  https=on
  # The port clients reach HTTPS on, for the redirect from HTTP: none in the URL for 443.
  https_port=$(count HTTPS_PUBLIC_PORT 8443)
  [ "$https_port" = 443 ] || https_port_suffix=":$https_port"
fi

host_socket=off
if [ -d "$HOST_SOCKET_DIR" ]; then
  if ! { [ -w "$HOST_SOCKET_DIR" ] && [ -x "$HOST_SOCKET_DIR" ]; }; then
    fail "unix socket: nginx (uid $(id -u), group $(id -g)) may not create polls.sock in POLLS_SOCKET_DIR; make uid $(id -u) its owner: README, \"A proxy on the same host\""
  fi
  # nginx makes its socket readable and writable by all (srw-rw-rw-, whatever the umask), and
  # believes the X-Forwarded-For of whoever connects: only the folder's mode keeps others out.
  case $(stat -c %A "$HOST_SOCKET_DIR") in
    *[xt]) echo "nginx-configure: warning: POLLS_SOCKET_DIR is open to every user of the host, who may then connect to polls.sock and claim any client address; README, \"A proxy on the same host\"" >&2 ;;
  esac
  if [ -e "$HOST_SOCKET" ]; then
    [ -S "$HOST_SOCKET" ] || fail "unix socket: POLLS_SOCKET_DIR/polls.sock is there and is not a socket; move it away"
    # A socket left by an nginx that was killed refuses connections, and nginx would not bind
    # over it (a clean exit removes it). One that takes a connection, or keeps it waiting (124:
    # its queue is full), belongs to a live nginx, another stack's.
    if timeout 2 nc -z -U "$HOST_SOCKET" 2>/dev/null || [ $? -eq 124 ]; then
      fail "unix socket: another nginx listens on POLLS_SOCKET_DIR/polls.sock (another stack with the same POLLS_SOCKET_DIR?)"
    fi
    rm -f "$HOST_SOCKET"
    echo "nginx-configure: removed the polls.sock an nginx killed before left in POLLS_SOCKET_DIR" >&2
  fi
  host_socket=on
fi

{
  echo "# Written by nginx-configure at start, from the environment."
  for proxy in $trusted_proxies; do echo "set_real_ip_from $proxy;"; done
  # Over the host socket the proxy is whoever the folder lets in (README, "A proxy on the
  # same host"). geo cannot match it: it takes the address "unix:" for 255.255.255.255.
  [ "$host_socket" = off ] || echo "set_real_ip_from unix:;"
  echo "geo \$realip_remote_addr \$from_trusted_proxy_address {"
  echo "  default 0;"
  for proxy in $trusted_proxies; do echo "  $proxy 1;"; done
  echo "}"
  echo "map \$realip_remote_addr \$from_trusted_proxy {"
  [ "$host_socket" = off ] || echo "  \"unix:\" 1;"
  echo "  default \$from_trusted_proxy_address;"
  echo "}"
  echo "limit_req_zone \$binary_remote_addr zone=api_requests_per_address:10m rate=${requests_per_second}r/s;"
  echo "map \$host \$https_port_suffix { default \"$https_port_suffix\"; }"
} > "$CONF/settings.conf"

# The burst goes through at once (nodelay): a page's requests are never slowed down, only
# refused past it.
rate_limit="limit_req zone=api_requests_per_address burst=$request_burst nodelay;"
printf '%s\n' "$rate_limit" "limit_conn api_requests_at_once_per_address $requests_at_once;" > "$CONF/api-limits.conf"
printf '%s\n' "$rate_limit" "limit_conn streams_per_address $streams;" > "$CONF/stream-limits.conf"

if [ "$https" = on ]; then
  echo "include /etc/nginx/https.conf;" > "$CONF/https.conf"
else
  echo "# No certificate mounted (compose.tls.yml): plain HTTP only." > "$CONF/https.conf"
fi

if [ "$host_socket" = on ]; then
  # Deep accept queue, as for the port (nginx.conf).
  echo "listen unix:$HOST_SOCKET backlog=4096;" > "$CONF/host-socket.conf"
else
  echo "# No host folder mounted (compose.socket.yml): no unix socket for a proxy on the host." > "$CONF/host-socket.conf"
fi

echo "nginx-configure: HTTPS $https; unix socket for the host $host_socket; trusted proxies: ${trusted_proxies:-none}; per address: $requests_per_second requests/s (burst $request_burst), $requests_at_once at once, $streams streams" >&2
