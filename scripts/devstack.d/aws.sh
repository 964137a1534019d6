# shellcheck shell=bash
#
# aws: moto server, the AWS API emulator, pinned and installed with pip into a cached venv, run
# through moto-ekskit.py, which adds the EKS add-on and Pod Identity operations moto lacks.
# AWS managed policies (e.g. AmazonEKSClusterPolicy) exist only with
# MOTO_IAM_LOAD_MANAGED_POLICIES=true. The emulated account id is drawn at random once per state
# directory (EKSKIT_EMULATOR_ACCOUNT overrides it), so nothing can depend on a fixed one.

MOTO_VERSION=5.2.5
MOTO_VENV=$CACHE_DIR/moto-$MOTO_VERSION

aws_packages() { echo curl ca-certificates python3-venv; }
aws_proc() { echo moto-ekskit; }
aws_grace() { echo 5; }
aws_where() { echo "http://127.0.0.1:$MOTO_PORT"; }
aws_ready() { curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$MOTO_PORT/moto-api/"; }

# aws_install: create the venv once; a venv without its .installed stamp is rebuilt.
aws_install() {
  if [[ -f $MOTO_VENV/.installed && -x $MOTO_VENV/bin/moto_server ]] &&
    "$MOTO_VENV/bin/python" -c '' 2>/dev/null; then
    return 0
  fi
  log "aws: installing moto[server]==$MOTO_VERSION into $MOTO_VENV"
  rm -rf "$MOTO_VENV"
  mkdir -p "$CACHE_DIR"
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  touch "$MOTO_VENV/.installed"
}

# emulator_account: the emulated account id, kept in the state directory. A moto already running
# without that file (started before it existed) is asked for its own.
emulator_account() {
  local file=$STATE_DIR/aws-account account=${EKSKIT_EMULATOR_ACCOUNT:-}
  if [[ -z $account && -s $file ]]; then
    account=$(<"$file")
  elif [[ -z $account ]] && aws_ready; then
    account=$(curl -s --max-time 5 "http://127.0.0.1:$MOTO_PORT/" -d 'Action=GetCallerIdentity&Version=2011-06-15' \
      -H "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/$EMULATOR_REGION/sts/aws4_request, SignedHeaders=host, Signature=0" |
      sed -n 's:.*<Account>\([0-9]\{12\}\)</Account>.*:\1:p')
  fi
  if [[ -z $account ]]; then
    account=$(shuf -i 100000-999999 -n 2 | tr -d '\n')
  fi
  [[ $account =~ ^[0-9]{12}$ ]] || die "aws: emulator account '$account' is not 12 digits"
  mkdir -p "$STATE_DIR"
  [[ -s $file && $(<"$file") == "$account" ]] || printf '%s\n' "$account" >"$file"
  printf '%s\n' "$account"
}

# aws_code: the emulator extension's code, by content (the same at any checkout path).
aws_code() { cat "$LIB_DIR"/moto-ekskit.py "$LIB_DIR"/moto_*.py | sha256sum | cut -d' ' -f1; }

# aws_prepare: a moto started from other extension code (before a pull, or by another checkout)
# would answer as the old emulator did; it is stopped, so `up` starts the current one.
aws_prepare() {
  local pid
  [[ -s $RUN_DIR/aws.code && $(<"$RUN_DIR/aws.code") == "$(aws_code)" ]] && return 0
  pid=$(live_pid aws "$(aws_proc)") || return 0
  log "aws: the emulator extension changed since pid $pid started; restarting it (what it held is lost)"
  stop_service aws "$(aws_proc)" "$(aws_grace)"
}

aws_up() {
  aws_install
  log "aws: starting moto server (with moto-ekskit.py) on 127.0.0.1:$MOTO_PORT"
  spawn aws env MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_ACCOUNT_ID="$(emulator_account)" \
    "$MOTO_VENV/bin/python" "$LIB_DIR/moto-ekskit.py" -H 127.0.0.1 -p "$MOTO_PORT"
  wait_ready aws 30 aws_ready
  aws_code >"$RUN_DIR/aws.code"
}
