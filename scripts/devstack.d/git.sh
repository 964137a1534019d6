# shellcheck shell=bash
#
# git: remotes served like real ones, over the same bare repositories under $GIT_ROOT
# (ekskit.git is created here, tests add more):
#   - `git daemon` over git:// with pushes enabled, no auth (GIT_PORT, 9418);
#   - smart HTTP that wants a token (git-http.py + `git http-backend`, GIT_HTTP_PORT, 9419): the
#     password must be the random token in GIT_HTTP_TOKEN_FILE, as a forge's access token.

git_packages() { echo git curl python3; }
git_proc() { echo git-daemon; }
git_grace() { echo 5; }
git_where() { echo "git://127.0.0.1:$GIT_PORT and http://127.0.0.1:$GIT_HTTP_PORT (token), repositories in $GIT_ROOT"; }
GIT_HTTP_PORT=${EKSKIT_GIT_HTTP_PORT:-$((9419 + PORT_SHIFT))}
GIT_HTTP_TOKEN_FILE=$STATE_DIR/git-http.token
git_http_proc() { echo git-http.py; }
git_ready() { timeout 5 git ls-remote "git://127.0.0.1:$GIT_PORT/ekskit.git" >/dev/null 2>&1 && git_http_ready; }
git_http_ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$GIT_HTTP_PORT/ekskit.git/info/refs?service=git-upload-pack") == 401 ]]; }

git_prepare() {
  if [[ ! -f $GIT_ROOT/ekskit.git/HEAD ]]; then
    mkdir -p "$GIT_ROOT"
    git init --quiet --bare --initial-branch=main "$GIT_ROOT/ekskit.git"
  fi
}

git_up() {
  if ! timeout 5 git ls-remote "git://127.0.0.1:$GIT_PORT/ekskit.git" >/dev/null 2>&1; then
    stop_service git git-daemon 2 2>/dev/null || true
    log "git: starting git daemon on 127.0.0.1:$GIT_PORT"
    spawn git "$(git --exec-path)/git-daemon" --reuseaddr --base-path="$GIT_ROOT" --export-all --enable=receive-pack \
      --informative-errors --listen=127.0.0.1 --port="$GIT_PORT"
    wait_ready git 30 timeout 5 git ls-remote "git://127.0.0.1:$GIT_PORT/ekskit.git"
  fi
  if [[ ! -s $GIT_HTTP_TOKEN_FILE ]]; then
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$GIT_HTTP_TOKEN_FILE")
  fi
  stop_service git_http git-http.py 2 2>/dev/null || true
  log "git: starting the token-protected smart HTTP remote on 127.0.0.1:$GIT_HTTP_PORT"
  spawn git_http python3 "$LIB_DIR/git-http.py" "$GIT_ROOT" "$GIT_HTTP_PORT" "$GIT_HTTP_TOKEN_FILE"
  wait_ready git_http 30 git_http_ready
}

git_down() {
  stop_service git git-daemon 5
  stop_service git_http git-http.py 5
}
