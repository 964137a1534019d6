# shellcheck shell=bash
#
# git: a remote served like a real one, by `git daemon` over git:// with pushes enabled.
# Every bare repository under $GIT_ROOT is exported; ekskit.git is created here, tests add more.

git_packages() { echo git; }
git_proc() { echo git-daemon; }
git_grace() { echo 5; }
git_where() { echo "git://127.0.0.1:$GIT_PORT, repositories in $GIT_ROOT"; }
git_ready() { timeout 5 git ls-remote "git://127.0.0.1:$GIT_PORT/ekskit.git" >/dev/null 2>&1; }

git_prepare() {
  if [[ ! -f $GIT_ROOT/ekskit.git/HEAD ]]; then
    mkdir -p "$GIT_ROOT"
    git init --quiet --bare --initial-branch=main "$GIT_ROOT/ekskit.git"
  fi
}

git_up() {
  log "git: starting git daemon on 127.0.0.1:$GIT_PORT"
  spawn git "$(git --exec-path)/git-daemon" --reuseaddr --base-path="$GIT_ROOT" --export-all --enable=receive-pack \
    --informative-errors --listen=127.0.0.1 --port="$GIT_PORT"
  wait_ready git 30 git_ready
}
