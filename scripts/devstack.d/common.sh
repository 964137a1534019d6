# shellcheck shell=bash
#
# Helpers shared by scripts/devstack and its component files: logging, package installs,
# background processes with pid files, readiness waits and stopping.
#
# Each component file defines, for component C:
#   C_packages  Debian packages it needs (printed on one line)
#   C_ready     true when the service answers
#   C_up        start it (only called when C_ready is false)
#   C_where     a short description of where it answers
# and, when it runs a process of its own:
#   C_proc      a word its process command line contains (used to trust pid files)
#   C_grace     seconds to wait after TERM before KILL
# It may define C_prepare, run before C_ready on every `up`.

log() { printf 'devstack: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# select_components VERB [NAME...]: set COMPONENTS to the named components (all when none),
# in start order; reversed for `down`; `up base` brings docker too.
select_components() {
  local verb=$1 name c
  shift
  local -A wanted=()
  for name in "$@"; do
    [[ " ${ALL_COMPONENTS[*]} " == *" $name "* ]] || die "unknown component '$name' (known: ${ALL_COMPONENTS[*]})"
    wanted[$name]=1
  done
  if ((${#wanted[@]} == 0)); then
    for c in "${ALL_COMPONENTS[@]}"; do wanted[$c]=1; done
  fi
  [[ $verb == up && -n ${wanted[base]:-} ]] && wanted[docker]=1
  COMPONENTS=()
  for c in "${ALL_COMPONENTS[@]}"; do
    [[ -n ${wanted[$c]:-} ]] || continue
    if [[ $verb == down ]]; then COMPONENTS=("$c" "${COMPONENTS[@]}"); else COMPONENTS+=("$c"); fi
  done
}

# lock_state: one `up`/`down` at a time per state directory (fd 9, closed in spawned daemons).
lock_state() {
  mkdir -p "$STATE_DIR" "$RUN_DIR" "$LOG_DIR"
  exec 9>"$STATE_DIR/lock"
  if ! flock -n 9; then
    log "waiting for another devstack up/down on $STATE_DIR"
    flock 9
  fi
}

# pkg_present PKG: true when the Debian package, or the command it provides, is there.
pkg_present() {
  case $1 in
    docker.io) command -v dockerd >/dev/null ;;
    docker-registry | debootstrap | git | curl) command -v "$1" >/dev/null ;;
    apache2-utils) command -v htpasswd >/dev/null ;;
    ca-certificates) [[ -s /etc/ssl/certs/ca-certificates.crt ]] ;;
    python3-venv) command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null ;;
    *) dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed' ;;
  esac
}

# ensure_packages PKG...: apt-get install the missing ones (apt-get update only if any is missing).
ensure_packages() {
  local pkg missing=()
  for pkg in "$@"; do
    [[ " ${missing[*]} " == *" $pkg "* ]] || pkg_present "$pkg" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  ((EUID == 0)) || die "missing packages ${missing[*]}: run as root or install them"
  log "installing ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# alive PID: true when PID runs and is not a zombie (pid 1 here may not reap).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# live_pid NAME WORD: print the pid from NAME's pid file if that process is alive and its
# command line contains WORD; otherwise remove the stale pid file and fail.
live_pid() {
  local pidfile=$RUN_DIR/$1.pid pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"; then
    printf '%s\n' "$pid"
    return 0
  fi
  rm -f "$pidfile"
  return 1
}

# spawn NAME CMD...: run CMD detached in its own session, output to $LOG_DIR/NAME.log (the
# previous log is kept as .prev); the child writes its own pid to $RUN_DIR/NAME.pid.
spawn() {
  local name=$1 log pidfile
  shift
  log=$LOG_DIR/$name.log
  pidfile=$RUN_DIR/$name.pid
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  if [[ -f $log ]]; then mv -f "$log" "$log.prev"; fi
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ and $@ are for the inner shell
  nohup setsid bash -c 'echo "$$" >"$0" && exec "$@"' "$pidfile" "$@" >"$log" 2>&1 </dev/null 8>&- 9>&- &
}

# wait_ready NAME SECONDS CHECK...: wait until CHECK succeeds; on timeout or if the process
# exits, stop it, show the end of its log and exit 1.
wait_ready() {
  local name=$1 timeout=$2 pid=
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    [[ -n $pid || ! -s $RUN_DIR/$name.pid ]] || pid=$(<"$RUN_DIR/$name.pid")
    if [[ -n $pid ]] && ! alive "$pid"; then
      start_failed "$name" "exited before answering"
    elif ((SECONDS >= deadline)); then
      start_failed "$name" "did not answer within ${timeout}s"
    fi
    sleep 0.2
  done
}

start_failed() {
  log "$1: $2; last lines of $LOG_DIR/$1.log:"
  tail -n 25 "$LOG_DIR/$1.log" >&2 || true
  stop_service "$1" "$("${1}_proc")" 2 2>/dev/null || true
  exit 1
}

# stop_service NAME WORD GRACE: TERM the process devstack started (then the rest of its
# session), KILL the session after GRACE seconds. Never touches what devstack did not start.
stop_service() {
  local name=$1 word=$2 grace=$3 pid
  if ! pid=$(live_pid "$name" "$word"); then
    log "$name: not running from devstack; nothing to stop"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      log "$name: still running after ${grace}s; sending KILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  kill -TERM -- "-$pid" 2>/dev/null || true # leftovers of its session (e.g. git daemon children)
  rm -f "$RUN_DIR/$name.pid"
}

# up_component C: leave C alone if it answers, else (re)start it and wait for it.
up_component() {
  local c=$1 pid
  if declare -F "${c}_prepare" >/dev/null; then "${c}_prepare"; fi
  if "${c}_ready"; then
    if [[ " base gitops prometheus images " == *" $c "* ]]; then log "$c: already there ($("${c}_where"))"; else log "$c: already running ($("${c}_where"))"; fi
    return 0
  fi
  if declare -F "${c}_proc" >/dev/null && pid=$(live_pid "$c" "$("${c}_proc")"); then
    log "$c: pid $pid does not answer; restarting it"
    stop_service "$c" "$("${c}_proc")" "$("${c}_grace")"
  fi
  "${c}_up"
  log "$c: up ($("${c}_where"))"
}
