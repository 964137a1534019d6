# shellcheck shell=bash
#
# registry: two Debian docker-registry (distribution 2.8) instances on 127.0.0.1, each with its
# own config and storage under the state directory, plain HTTP, deletes enabled, no blob cache
# (an in-memory cache can report deleted blobs as present):
#   - REGISTRY_PORT (5001): no auth.
#   - REGISTRY_AUTH_PORT (5002): htpasswd auth. It stands in for ECR's registry endpoint, whose
#     host the engine cannot reach here: user AWS with the password moto's GetAuthorizationToken
#     hands out (`<account>-auth-token`), so an ECR push only lands if the token was exchanged
#     and passed on. User `ekskit` has a random password in REGISTRY_AUTH_PASSWORD_FILE, for
#     private registries with a password file or the Docker config.

REGISTRY_AUTH_PORT=${EKSKIT_REGISTRY_AUTH_PORT:-$((5002 + PORT_SHIFT))}
REGISTRY_AUTH_DIR=$STATE_DIR/registry-auth
REGISTRY_AUTH_PASSWORD_FILE=$REGISTRY_AUTH_DIR/ekskit.password

registry_packages() { echo docker-registry curl apache2-utils; }
registry_proc() { echo docker-registry; }
registry_auth_proc() { echo docker-registry; }
registry_grace() { echo 5; }
registry_where() { echo "http://127.0.0.1:$REGISTRY_PORT/v2/ and http://127.0.0.1:$REGISTRY_AUTH_PORT/v2/ (htpasswd)"; }
registry_ready() {
  curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$REGISTRY_PORT/v2/" &&
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$REGISTRY_AUTH_PORT/v2/") == 401 ]]
}

# registry_config DIR PORT [HTPASSWD]: a config with storage in DIR/data.
registry_config() {
  local dir=$1 port=$2 htpasswd=${3:-}
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
  addr: 127.0.0.1:$port
  secret: ekskit-devstack-not-secret
  headers:
    X-Content-Type-Options: [nosniff]
YAML
  if [[ -n $htpasswd ]]; then
    printf 'auth:\n  htpasswd:\n    realm: ekskit-devstack\n    path: %s\n' "$htpasswd" >>"$dir/config.yml"
  fi
}

registry_up() {
  registry_config "$STATE_DIR/registry" "$REGISTRY_PORT"
  if ! curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$REGISTRY_PORT/v2/"; then
    stop_service registry docker-registry 2 2>/dev/null || true
    log "registry: starting docker-registry on 127.0.0.1:$REGISTRY_PORT"
    spawn registry docker-registry serve "$STATE_DIR/registry/config.yml"
    wait_ready registry 30 curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$REGISTRY_PORT/v2/"
  fi
  mkdir -p "$REGISTRY_AUTH_DIR"
  if [[ ! -s $REGISTRY_AUTH_PASSWORD_FILE ]]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$REGISTRY_AUTH_PASSWORD_FILE")
  fi
  {
    # moto's ECR token is base64 of AWS:<account>-auth-token.
    htpasswd -Bbn AWS "$(emulator_account)-auth-token"
    htpasswd -Bbn ekskit "$(<"$REGISTRY_AUTH_PASSWORD_FILE")"
  } | grep -v '^$' >"$REGISTRY_AUTH_DIR/htpasswd"
  registry_config "$REGISTRY_AUTH_DIR" "$REGISTRY_AUTH_PORT" "$REGISTRY_AUTH_DIR/htpasswd"
  stop_service registry_auth docker-registry 2 2>/dev/null || true
  log "registry: starting docker-registry with htpasswd auth on 127.0.0.1:$REGISTRY_AUTH_PORT"
  spawn registry_auth docker-registry serve "$REGISTRY_AUTH_DIR/config.yml"
  wait_ready registry_auth 30 registry_ready
}

registry_down() {
  stop_service registry docker-registry 5
  stop_service registry_auth docker-registry 5
}
