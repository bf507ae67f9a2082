#!/bin/sh
# Writes what nginx.conf takes from the environment into /tmp/nginx, before nginx starts
# (nginx-entrypoint runs it). Stops with a message naming the setting when one is wrong, so the
# container's log says why nginx did not start.
#   settings.conf        the trusted proxies, the API's request rate, the HTTPS port (http{})
#   api-limits.conf      the API's limits per client address (its locations)
#   stream-limits.conf   the event streams' (their location)
#   https.conf           nginx/https.conf when a certificate is mounted, else nothing (server{})
set -eu

CONF=/tmp/nginx
TLS_DIR=/etc/nginx/tls
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

{
  echo "# Written by nginx-configure at start, from the environment."
  for proxy in $trusted_proxies; do echo "set_real_ip_from $proxy;"; done
  echo "geo \$realip_remote_addr \$from_trusted_proxy {"
  echo "  default 0;"
  for proxy in $trusted_proxies; do echo "  $proxy 1;"; done
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

echo "nginx-configure: HTTPS $https; trusted proxies: ${trusted_proxies:-none}; per address: $requests_per_second requests/s (burst $request_burst), $requests_at_once at once, $streams streams" >&2
