# shellcheck shell=bash
#
# registry: Debian's docker-registry (distribution 2.8) on 127.0.0.1 with its own config and
# storage under the state directory: plain HTTP, no auth, deletes enabled, no blob cache (an
# in-memory cache can report deleted blobs as present).

registry_packages() { echo docker-registry curl apache2-utils; }
registry_proc() { echo docker-registry; }
registry_grace() { echo 5; }
registry_where() { echo "http://127.0.0.1:$REGISTRY_PORT/v2/"; }
registry_ready() { curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$REGISTRY_PORT/v2/"; }

registry_up() {
  local dir=$STATE_DIR/registry
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<YAML
# written by scripts/devstack
version: 0.1
log:
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
  secret: ekskit-devstack-not-secret
  headers:
    X-Content-Type-Options: [nosniff]
YAML
  log "registry: starting docker-registry on 127.0.0.1:$REGISTRY_PORT"
  spawn registry docker-registry serve "$dir/config.yml"
  wait_ready registry 30 registry_ready
}
