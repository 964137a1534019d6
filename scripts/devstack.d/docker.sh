# shellcheck shell=bash
#
# docker: use the engine that answers at DOCKER_HOST (default: Docker's own socket); when none
# does and DOCKER_HOST is a unix socket, start Debian's dockerd there (no systemd here).
# dockerd needs no special flags on this kind of machine (overlay2 on ext4, cgroup v1, iptables
# NAT for containers that reach the Debian mirror). --ip=127.0.0.1 makes `docker run -p` publish
# on loopback instead of 0.0.0.0.

docker_packages() { echo docker.io; }
docker_proc() { echo dockerd; }
docker_grace() { echo 20; }
docker_where() { echo "$DOCKER_HOST"; }
docker_ready() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

docker_up() {
  [[ $DOCKER_HOST == unix://* ]] ||
    die "docker: DOCKER_HOST=$DOCKER_HOST does not answer and devstack can only start an engine on a unix socket"
  log "docker: starting dockerd on $DOCKER_HOST"
  spawn docker dockerd --host="$DOCKER_HOST" --ip=127.0.0.1
  wait_ready docker 120 docker_ready
}
