# shellcheck shell=bash
#
# What scripts/up, deploy and down share: the stack's document, where the tools are, and the
# difference between the local stack and AWS (the only one: the cluster side).
#
# Environment (all optional):
#   STACK            stack name (default demo); the document is .ekskit/$STACK.json
#   EKSKIT_BIN       directory of the ekskit tools (default: $CARGO_TARGET_DIR/debug, else PATH)
#   EKSKIT_KUBECONFIG  set by `scripts/devstack env`: kapply and monstack reach that cluster (the
#                    local control plane) instead of the EKS endpoint in the document, which the
#                    AWS emulator cannot serve
#   ENVIRONMENT      the deploy/environments/<ENVIRONMENT> overlay to release into (default dev)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK=${STACK:-demo}
DOC=$ROOT/.ekskit/$STACK.json
ENVIRONMENT=${ENVIRONMENT:-dev}
BIN=${EKSKIT_BIN:-${CARGO_TARGET_DIR:-$("$ROOT/scripts/target-dir")}/debug}

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit "${2:-1}"; }

# tool NAME ARGS...: an ekskit tool from $BIN, else from PATH.
tool() {
  local name=$1
  shift
  if [[ -x $BIN/$name ]]; then "$BIN/$name" "$@"; else "$name" "$@"; fi
}

# local_stack: true when the cluster side is the local control plane.
local_stack() { [[ -n ${EKSKIT_KUBECONFIG:-} ]]; }

# The forwarder scripts/deploy keeps from 127.0.0.1:$APP_PORT to the app's Service (local stack).
APP_FORWARDER_PID=$ROOT/.ekskit/$STACK-app.pid
# shellcheck disable=SC2034 # used by deploy and down
APP_FORWARDER_LOG=$ROOT/.ekskit/$STACK-app.log

# app_forwarder_pid TARGET: the forwarder's pid when it runs (a socat to TARGET; '': to anything).
app_forwarder_pid() {
  local pid
  pid=$(cat "$APP_FORWARDER_PID" 2>/dev/null) && [[ -n $pid ]] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep '^socat ' | grep -qF "${1:-}" || return 1
  echo "$pid"
}

# kube_flags: kapply/monstack flags that pick the cluster.
kube_flags() {
  if local_stack; then printf '%s\n' --kubeconfig "$EKSKIT_KUBECONFIG"; fi
}

# lock_stack: hold the stack's lock ($DOC.lock) until the script exits, so two runs on one stack
# (up, deploy, down, on this machine) take turns instead of interleaving their writes. The lock
# goes with the process, so a killed run leaves none behind; a process started to outlive the run
# (the app's forwarder) is started with {STACK_LOCK_FD}>&-, or it would hold the lock on.
lock_stack() {
  mkdir -p "$(dirname "$DOC")"
  exec {STACK_LOCK_FD}>"$DOC.lock"
  flock -n "$STACK_LOCK_FD" && return
  log "waiting for the other run on stack $STACK to finish (lock $DOC.lock)"
  flock "$STACK_LOCK_FD"
}

# replace_doc COMMAND...: the document becomes what COMMAND writes from it, through a temporary
# file of this run's own in the same directory; an atomic rename, so the saved document is
# always whole and a failed or interrupted command leaves it as it was.
replace_doc() {
  local tmp
  tmp=$(mktemp "$DOC.XXXXXX")
  "$@" <"$DOC" >"$tmp" || { local rc=$?; rm -f "$tmp"; return "$rc"; }
  mv "$tmp" "$DOC"
}

# step NAME COMMAND...: run COMMAND with the document on stdin; the document it writes replaces
# the saved one only when it succeeds, so an interrupted run can be run again.
step() {
  local name=$1
  shift
  mkdir -p "$(dirname "$DOC")"
  [[ -s $DOC ]] || echo '{}' >"$DOC"
  log "$name"
  replace_doc "$@" || die "$name failed (the document $DOC is as before; fix and run again)"
}

# without_credentials URL: an http(s) URL without the user and password (or token) it may carry,
# as `https://x-access-token:TOKEN@host/repo.git` origins do: what is written into the document
# and the cluster must never hold them (Argo CD gets its own from its repository Secret). An SSH
# URL keeps its user, which is no secret.
without_credentials() {
  sed -E 's#^([Hh][Tt][Tt][Pp][Ss]?://)[^/@]*@#\1#' <<<"$1"
}

# set_key KEY JSON: put KEY into the document.
set_key() {
  # shellcheck disable=SC2016 # jq's variables, not the shell's
  replace_doc jq --arg key "$1" --argjson value "$2" '.[$key] = $value'
}

# JQ_AT: the jq function at(PATH): a value by dotted path (a number indexes a list: push.tags.0),
# null when there is none.
# shellcheck disable=SC2016 # jq's variables, not the shell's
JQ_AT='def at($path): reduce ($path | split(".")[]) as $part (.;
  if type == "object" then .[$part]
  elif type == "array" and ($part | test("^[0-9]+$")) then .[$part | tonumber]
  else null end);'

# get_key PATH: a value of the document by dotted path (see JQ_AT): a string as it is, anything
# else as JSON, or nothing.
get_key() {
  jq -r --arg path "$1" "$JQ_AT"' at($path) | if . == null then "" elif type == "string" then . else tojson end' "$DOC"
}

# addon_names: the keys of the document's cluster.addons (mkeks --addon), one a line.
addon_names() {
  jq -r "$JQ_AT"' at("cluster.addons") | if type == "object" then keys_unsorted[] else empty end' "$DOC"
}
