#!/usr/bin/env bash
# Entrypoint of the swarm node image: prepares a privileged container to run its own dockerd,
# then execs dockerd (its log goes to the container's stdout: `docker logs NODE`).
# Extra arguments are passed to dockerd.
#   SWARM_NODE_IPTABLES=legacy|nft   iptables back end of the inner engine (default legacy)
set -euo pipefail

log() { echo "swarm-node-entrypoint: $*" >&2; }

# A privileged container is needed: mounts, iptables, bridges and VXLAN devices.
if ! ip link add swnode-probe type bridge 2>/dev/null; then
  log "cannot create network devices: run this image with --privileged"
  exit 1
fi
ip link delete swnode-probe

case "${SWARM_NODE_IPTABLES:-legacy}" in
  legacy|nft)
    for t in iptables ip6tables; do
      update-alternatives --quiet --set "$t" "/usr/sbin/$t-${SWARM_NODE_IPTABLES:-legacy}"
    done
    ;;
  *) log "SWARM_NODE_IPTABLES must be legacy or nft, not '${SWARM_NODE_IPTABLES}'"; exit 1 ;;
esac

# As in docker's own dind script: securityfs for AppArmor-aware tools, shared mount propagation
# so volume mounts of inner containers propagate.
if [ -d /sys/kernel/security ] && ! mountpoint -q /sys/kernel/security; then
  mount -t securityfs none /sys/kernel/security 2>/dev/null || log "could not mount securityfs (ignored)"
fi
mount --make-rshared / 2>/dev/null || true

# cgroup v2 only (this machine is v1, where the node's own cgroup is already its root):
# move every process out of the root cgroup so inner containers can enable controllers.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
  sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
fi

# a stale pid file from a killed run stops dockerd from starting again after `docker restart`
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid

storage=()
if [ "$(stat -f -c %T /var/lib/docker 2>/dev/null)" = overlayfs ]; then
  log "/var/lib/docker is on overlayfs (no volume mounted): the engine will fall back to vfs (slow)"
else
  storage=(--storage-driver overlay2)
fi

exec dockerd --host unix:///var/run/docker.sock "${storage[@]}" "$@"
