#!/usr/bin/env bash
# A real 3-node Docker Swarm on one machine: three privileged containers ("nodes"), each running
# its own Docker engine (image scripts/swarm/node, built locally), on a bridge network of the host
# engine. For end-to-end tests of `docker stack deploy`. See scripts/swarm/README.md.
#
#   cluster.sh up NAME               build the node image if missing or stale, start NAME-manager,
#                                    NAME-worker1, NAME-worker2 on network NAME, make the swarm,
#                                    wait until all 3 nodes are Ready, print "node ip" lines
#   cluster.sh load NAME IMAGE...    copy host images into every node (skips ones already there)
#   cluster.sh exec NAME NODE CMD... run CMD in a node (NODE: manager, worker1, worker2 or a full
#                                    container name), e.g. `exec NAME manager docker node ls`
#   cluster.sh ips NAME              print "node ip" lines (node address on the bridge network)
#   cluster.sh status NAME           `docker node ls` on the manager
#   cluster.sh host NAME             print the manager engine's address for this machine's docker
#                                    CLI, e.g. `DOCKER_HOST=$(cluster.sh host NAME) docker stack ls`
#   cluster.sh down NAME             remove every container, volume and network labelled
#                                    polls.swarm=NAME (succeeds when there is nothing)
#
# Everything created carries the label polls.swarm=NAME; `down` removes exactly that.
# Settings (environment):
#   SWARM_NODE_IMAGE        node image tag                     (polls-swarm-node:latest)
#   SWARM_DEBIAN_IMAGE      base image for building it         (debian:bookworm-slim)
#   SWARM_NODE_MEMORY       --memory of each node container; 0 = no limit        (3g)
#   SWARM_NODE_IPTABLES     inner engine's iptables back end: legacy or nft      (legacy)
#   SWARM_TIMEOUT           seconds to wait for each engine / for Ready nodes    (60)
#   SWARM_HEARTBEAT         --dispatcher-heartbeat given to `swarm init`         (2s)
#   SWARM_LOAD_PARALLEL     1 = load into the nodes in parallel, 0 = one by one  (1)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE_IMAGE="${SWARM_NODE_IMAGE:-polls-swarm-node:latest}"
DEBIAN_IMAGE="${SWARM_DEBIAN_IMAGE:-debian:bookworm-slim}"
NODE_MEMORY="${SWARM_NODE_MEMORY:-3g}"
NODE_IPTABLES="${SWARM_NODE_IPTABLES:-legacy}"
TIMEOUT="${SWARM_TIMEOUT:-60}"
HEARTBEAT="${SWARM_HEARTBEAT:-2s}"
LOAD_PARALLEL="${SWARM_LOAD_PARALLEL:-1}"
LABEL=polls.swarm
ROLES=(manager worker1 worker2)
# The manager's engine also listens on a socket in this folder of the host (only root may enter
# it), so the host's own docker CLI can drive the swarm with the repository's files at hand.
host_access_dir() { echo "${TMPDIR:-/tmp}/polls-swarm-$1"; }

die() { echo "cluster.sh: $*" >&2; exit 1; }
note() { echo "cluster.sh: $*" >&2; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

need_engine() {
  docker info >/dev/null 2>&1 || die "no docker engine answers (run scripts/machine/docker.sh)"
}

check_name() {
  [ -n "${1:-}" ] || usage
  [[ "$1" =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] || die "bad cluster name '$1' (letters, digits, _ . - only)"
}

# Value of label polls.swarm on a container / volume / network, empty if it has none.
container_label() { docker container inspect --format "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null || true; }
volume_label() { docker volume inspect --format "{{index .Labels \"$LABEL\"}}" "$1" 2>/dev/null || true; }
network_label() { docker network inspect --format "{{index .Labels \"$LABEL\"}}" "$1" 2>/dev/null || true; }

node_names() { local r; for r in "${ROLES[@]}"; do echo "$1-$r"; done; }

# The node's address on the cluster's bridge network.
node_ip() { # cluster node
  docker container inspect --format "{{with index .NetworkSettings.Networks \"$1\"}}{{.IPAddress}}{{end}}" "$2" 2>/dev/null || true
}

node_running() { [ "$(docker container inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

# Last lines of a node's engine log, for error messages.
node_log_tail() { docker logs --tail 15 "$1" 2>&1 | sed 's/^/    /' >&2 || true; }

# ---------------------------------------------------------------------------------------------
# Node image: built when missing, or when scripts/swarm/node changed since it was built
# (the image carries a hash of its build context as a label).

context_hash() { cat "$here/node/Dockerfile" "$here/node/entrypoint.sh" | sha256sum | cut -c1-16; }

ensure_image() {
  local want have log
  want="$(context_hash)"
  have="$(docker image inspect --format "{{index .Config.Labels \"$LABEL.node-context\"}}" "$NODE_IMAGE" 2>/dev/null || true)"
  [ "$have" = "$want" ] && return 0
  docker image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1 || docker pull --quiet "$DEBIAN_IMAGE" >/dev/null 2>&1 \
    || die "base image $DEBIAN_IMAGE is missing and cannot be pulled: with no registry, run scripts/offline-images/build.sh"
  local old_id
  old_id="$(docker image inspect --format '{{.Id}}' "$NODE_IMAGE" 2>/dev/null || true)"
  if [ -n "$have" ]; then note "rebuilding $NODE_IMAGE (scripts/swarm/node changed)"; else note "building $NODE_IMAGE"; fi
  log="$(mktemp /tmp/swarm-node-build.XXXXXX)"
  # BuildKit needs the buildx plugin; without it use the classic builder.
  local buildkit=1
  docker buildx version >/dev/null 2>&1 || buildkit=0
  if ! DOCKER_BUILDKIT=$buildkit docker build --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" \
      --label "$LABEL.node-context=$want" -t "$NODE_IMAGE" "$here/node" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    die "building $NODE_IMAGE failed (log above)"
  fi
  rm -f "$log"
  # the replaced image, now untagged (kept while a running cluster's nodes still use it)
  if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect --format '{{.Id}}' "$NODE_IMAGE")" ]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true
  fi
}

# ---------------------------------------------------------------------------------------------

ensure_network() { # cluster
  local l
  if docker network inspect "$1" >/dev/null 2>&1; then
    l="$(network_label "$1")"
    [ "$l" = "$1" ] || die "a network named $1 exists but is not this cluster's (label $LABEL='$l'); pick another name"
    return 0
  fi
  docker network create --driver bridge --label "$LABEL=$1" "$1" >/dev/null \
    || die "could not create network $1"
}

ensure_node() { # cluster role
  local name="$1-$2" vol="$1-$2-docker" l
  if docker container inspect "$name" >/dev/null 2>&1; then
    l="$(container_label "$name")"
    [ "$l" = "$1" ] || die "a container named $name exists but is not this cluster's (label $LABEL='$l')"
    if ! node_running "$name"; then
      docker start "$name" >/dev/null || { node_log_tail "$name"; die "could not start $name"; }
    fi
    return 0
  fi
  if docker volume inspect "$vol" >/dev/null 2>&1; then
    l="$(volume_label "$vol")"
    [ "$l" = "$1" ] || die "a volume named $vol exists but is not this cluster's (label $LABEL='$l')"
  else
    docker volume create --label "$LABEL=$1" "$vol" >/dev/null || die "could not create volume $vol"
  fi
  local limits=() access=() engine_args=()
  if [ "$2" = manager ]; then
    local dir
    dir="$(host_access_dir "$1")"
    mkdir -p "$dir"
    chmod 700 "$dir"
    access=(--volume "$dir:/run/host-access")
    # Owned by the caller's group, so a user of the host's engine who is not root can use it.
    engine_args=(--host unix:///run/host-access/docker.sock --group "$(id -g)")
  fi
  if [ -n "$NODE_MEMORY" ] && [ "$NODE_MEMORY" != 0 ]; then
    limits=(--memory "$NODE_MEMORY" --memory-swap "$NODE_MEMORY")
  fi
  # /var/lib/docker on a volume: overlay2 cannot stack on the node's own overlay root (it would
  # fall back to vfs). The engine's log is the container's log, kept small.
  docker run -d --privileged \
    --name "$name" --hostname "$name" \
    --network "$1" \
    --label "$LABEL=$1" --label "$LABEL.role=$2" \
    --volume "$vol:/var/lib/docker" \
    --env "SWARM_NODE_IPTABLES=$NODE_IPTABLES" \
    --log-opt max-size=5m --log-opt max-file=2 \
    "${limits[@]}" "${access[@]}" \
    "$NODE_IMAGE" "${engine_args[@]}" >/dev/null || die "could not start container $name"
}

wait_engine() { # node
  local deadline=$((SECONDS + TIMEOUT)) restarted=0
  until docker exec "$1" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; do
    if ! node_running "$1"; then
      # it may have been on its way down when `up` found it running (dockerd got SIGTERM)
      if [ "$restarted" = 0 ] && docker start "$1" >/dev/null 2>&1; then
        restarted=1
        continue
      fi
      node_log_tail "$1"; die "node $1 stopped while its engine was starting (its log above)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      node_log_tail "$1"; die "the engine in $1 did not answer within ${TIMEOUT}s (its log above)"
    fi
    sleep 0.5
  done
}

in_node() { local n="$1"; shift; docker exec "$n" "$@"; }
swarm_state() { in_node "$1" docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown; }

ensure_swarm() { # cluster
  local mgr="$1-manager" ip state addr token w wstate wid
  ip="$(node_ip "$1" "$mgr")"
  [ -n "$ip" ] || die "$mgr has no address on network $1"
  state="$(swarm_state "$mgr")"
  case "$state" in
    inactive)
      in_node "$mgr" docker swarm init --advertise-addr "$ip" --listen-addr "$ip:2377" \
        --dispatcher-heartbeat "$HEARTBEAT" >/dev/null || die "docker swarm init failed on $mgr"
      ;;
    active)
      [ "$(in_node "$mgr" docker info --format '{{.Swarm.ControlAvailable}}')" = true ] \
        || die "$mgr is in a swarm but not a manager; run: $0 down $1"
      addr="$(in_node "$mgr" docker info --format '{{.Swarm.NodeAddr}}')"
      [ "$addr" = "$ip" ] || die "$mgr advertises $addr but its address is now $ip; run: $0 down $1"
      ;;
    *) die "$mgr swarm state is '$state'; run: $0 down $1" ;;
  esac
  token="$(in_node "$mgr" docker swarm join-token -q worker)" || die "could not read the join token on $mgr"
  for w in "$1-worker1" "$1-worker2"; do
    wstate="$(swarm_state "$w")"
    if [ "$wstate" = active ]; then
      # active in THIS swarm? (the manager knows its node id)
      wid="$(in_node "$w" docker info --format '{{.Swarm.NodeID}}')"
      if in_node "$mgr" docker node inspect "$wid" >/dev/null 2>&1; then
        continue
      fi
    fi
    if [ "$wstate" != inactive ]; then
      in_node "$w" docker swarm leave --force >/dev/null 2>&1 || true
    fi
    # a node of the same name that left or died earlier would stay listed as Down
    in_node "$mgr" docker node ls --filter "name=$w" --format '{{.ID}} {{.Hostname}} {{.Status}}' \
      | awk -v h="$w" '$2 == h && $3 != "Ready" {print $1}' \
      | while read -r stale; do in_node "$mgr" docker node rm --force "$stale" >/dev/null 2>&1 || true; done
    in_node "$w" docker swarm join --token "$token" --advertise-addr "$(node_ip "$1" "$w")" "$ip:2377" >/dev/null \
      || die "$w could not join the swarm at $ip:2377"
  done
}

wait_ready() { # cluster
  local mgr="$1-manager" deadline=$((SECONDS + TIMEOUT)) ready
  while :; do
    ready="$(in_node "$mgr" docker node ls --format '{{.Hostname}} {{.Status}}' 2>/dev/null \
      | awk -v c="$1" '$2 == "Ready" && ($1 == c"-manager" || $1 == c"-worker1" || $1 == c"-worker2")' | sort -u | wc -l)"
    [ "$ready" -ge 3 ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      in_node "$mgr" docker node ls >&2 || true
      die "only $ready of 3 nodes Ready after ${TIMEOUT}s"
    fi
    sleep 0.5
  done
}

print_ips() { # cluster
  local n ip found=0
  for n in $(node_names "$1"); do
    ip="$(node_ip "$1" "$n")"
    [ -n "$ip" ] || continue
    echo "$n $ip"
    found=1
  done
  [ "$found" = 1 ] || die "no node of cluster $1 is running (run: $0 up $1)"
}

cmd_up() {
  local c="$1" r n
  need_engine
  ensure_image
  ensure_network "$c"
  for r in "${ROLES[@]}"; do ensure_node "$c" "$r"; done
  for n in $(node_names "$c"); do wait_engine "$n"; done
  ensure_swarm "$c"
  wait_ready "$c"
  print_ips "$c"
}

# ---------------------------------------------------------------------------------------------

running_nodes() { # cluster: the cluster's running node containers
  docker ps --filter "label=$LABEL=$1" --format '{{.Names}}' | sort
}

load_into() { # node images...: load those images the node lacks (compared by image id)
  local node="$1" img hid missing=()
  shift
  for img in "$@"; do
    hid="$(docker image inspect --format '{{.Id}}' "$img")"
    [ "$(in_node "$node" docker image inspect --format '{{.Id}}' "$img" 2>/dev/null)" = "$hid" ] || missing+=("$img")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  docker save "${missing[@]}" | docker exec -i "$node" docker load -q >/dev/null
}

cmd_load() {
  local c="$1" img nodes n rc=0
  shift
  [ "$#" -gt 0 ] || die "load: name at least one image"
  need_engine
  for img in "$@"; do
    docker image inspect "$img" >/dev/null 2>&1 || die "load: no image $img on the host"
  done
  mapfile -t nodes < <(running_nodes "$c")
  [ "${#nodes[@]}" -gt 0 ] || die "load: no running node of cluster $c (run: $0 up $c)"
  if [ "$LOAD_PARALLEL" = 1 ]; then
    local pids=()
    for n in "${nodes[@]}"; do load_into "$n" "$@" & pids+=($!); done
    for i in "${!pids[@]}"; do
      wait "${pids[$i]}" || { note "load into ${nodes[$i]} failed"; rc=1; }
    done
  else
    for n in "${nodes[@]}"; do load_into "$n" "$@" || { note "load into $n failed"; rc=1; }; done
  fi
  return "$rc"
}

cmd_exec() {
  local c="$1" node="${2:-}"
  if [ -z "$node" ] || [ "$#" -lt 3 ]; then die "exec: usage: exec NAME NODE CMD..."; fi
  shift 2
  case "$node" in manager|worker1|worker2) node="$c-$node" ;; esac
  [ "$(container_label "$node")" = "$c" ] || die "exec: $node is not a node of cluster $c"
  node_running "$node" || die "exec: node $node is not running"
  local flags=(-i)
  [ -t 0 ] && [ -t 1 ] && flags+=(-t)
  exec docker exec "${flags[@]}" "$node" "$@"
}

cmd_status() {
  need_engine
  node_running "$1-manager" || die "status: $1-manager is not running"
  in_node "$1-manager" docker node ls
}

cmd_down() {
  local c="$1" ids
  need_engine
  mapfile -t ids < <(docker ps -aq --filter "label=$LABEL=$c")
  if [ "${#ids[@]}" -gt 0 ]; then
    docker rm -f -v "${ids[@]}" >/dev/null || die "down: could not remove containers of $c"
  fi
  mapfile -t ids < <(docker volume ls -q --filter "label=$LABEL=$c")
  if [ "${#ids[@]}" -gt 0 ]; then
    docker volume rm "${ids[@]}" >/dev/null || die "down: could not remove volumes of $c"
  fi
  mapfile -t ids < <(docker network ls -q --filter "label=$LABEL=$c")
  if [ "${#ids[@]}" -gt 0 ]; then
    docker network rm "${ids[@]}" >/dev/null || die "down: could not remove network of $c"
  fi
  rm -rf "$(host_access_dir "$c")"
}

cmd_host() {
  [ -S "$(host_access_dir "$1")/docker.sock" ] || die "host: no engine socket of cluster $1 (run: $0 up $1)"
  echo "unix://$(host_access_dir "$1")/docker.sock"
}

sub="${1:-}"
[ "$#" -ge 2 ] || usage
shift
check_name "$1"
case "$sub" in
  up)     [ "$#" -eq 1 ] || usage; cmd_up "$1" ;;
  load)   cmd_load "$@" ;;
  exec)   cmd_exec "$@" ;;
  ips)    [ "$#" -eq 1 ] || usage; need_engine; print_ips "$1" ;;
  status) [ "$#" -eq 1 ] || usage; cmd_status "$1" ;;
  down)   [ "$#" -eq 1 ] || usage; cmd_down "$1" ;;
  host)   [ "$#" -eq 1 ] || usage; cmd_host "$1" ;;
  *)      echo "cluster.sh: unknown subcommand '$sub'" >&2; usage ;;
esac
