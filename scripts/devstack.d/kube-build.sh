# shellcheck shell=bash
#
# kube-build: the Kubernetes control plane built from upstream sources through the Go module
# proxy (nothing can come from GitHub releases or image registries here), once per version,
# into $CACHE_DIR/kube/<part>-<version>/. Three builds, each in a throwaway module that requires
# the upstream one:
#   k8s   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl from k8s.io/kubernetes;
#         its go.mod points the k8s.io/* staging modules at ./staging, which a module download
#         does not carry, so they are replaced by their published v0.<minor>.<patch> versions
#   etcd  go.etcd.io/etcd/server/v3 (Debian's etcd 3.4 is too old for Kubernetes 1.34)
#   kwok  sigs.k8s.io/kwok: simulated nodes that run and report Pods without a kubelet (only
#         with EKSKIT_KWOK_NODES=1)
#   node  kubelet and kube-proxy from k8s.io/kubernetes, like k8s (node.sh runs them)
# Cold on 2 cores: 9 to 13 minutes for k8s, 1 for etcd, 2 to 3 for kwok, ~2 GB RAM; warm: nothing.

KUBE_VERSION=1.34.4
ETCD_VERSION=3.6.16
KWOK_VERSION=0.7.0
KUBE_BIN=$CACHE_DIR/kube/k8s-v$KUBE_VERSION
ETCD_BIN=$CACHE_DIR/kube/etcd-v$ETCD_VERSION
KWOK_BIN=$CACHE_DIR/kube/kwok-v$KWOK_VERSION
# kubelet and kube-proxy: the real node (node.sh), a build of their own so that adding them did
# not invalidate the control plane's cache.
NODE_BIN=$CACHE_DIR/kube/node-v$KUBE_VERSION

# go_lock / go_unlock: one Go build at a time on this machine (two stacks, or a stack and a
# test, starting together would otherwise build the same thing twice on the same cores).
go_lock() {
  command -v go >/dev/null || die "go: building needs Go (https://go.dev/dl); none is on PATH"
  mkdir -p "$CACHE_DIR"
  exec 8>"$CACHE_DIR/go-build.lock"
  flock 8
}
go_unlock() { exec 8>&-; }

# go_build NAME OUTDIR MODULE@VERSION [--env K=V]... [--tags TAGS] [BINARY=]PACKAGE...
#   [-- LDFLAGS]: build each PACKAGE of MODULE as OUTDIR/BINARY (default: the package's last path
# element), atomically (a failed or interrupted build leaves no OUTDIR). The throwaway module
# copies the upstream go.mod's go line, and its replace, exclude and godebug directives
# (local-path replaces excepted): they only apply in the main module, and without them the build
# would use other versions than upstream's. The go line also sets the binary's GODEBUG defaults.
# The upstream go.sum seeds this one, so downloads are checked against the hashes upstream's
# build checked, and the checksum database is only asked for the others (the one reached here
# lacks some, e.g. k8s.io/sample-controller v0.32.6 for kube-state-metrics).
go_build() {
  local name=$1 out=$2 require=$3 ldflags="-s -w" tags='' envs=() bins=()
  shift 3
  while (($#)); do
    case $1 in
      --env) envs+=("$2") && shift 2 ;;
      --tags) tags=$2 && shift 2 ;;
      --) ldflags+=" $2" && break ;;
      *=*) bins+=("$1") && shift ;;
      *) bins+=("${1##*/}=$1") && shift ;;
    esac
  done
  go_lock
  # Another run may have built it while this one waited for the lock.
  if [[ -d $out ]]; then go_unlock && return 0; fi
  local work=$out.build info gomod zip started=$SECONDS b
  rm -rf "$work"
  mkdir -p "$work/src" "$work/bin"
  log "go: building $name ($require) through the Go module proxy; the first time takes minutes"
  info=$(env "${envs[@]}" go mod download -json "$require")
  gomod=$(sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p' <<<"$info")
  zip=$(sed -n 's/^\t"Zip": "\(.*\)",$/\1/p' <<<"$info")
  [[ -s $gomod && -s $zip ]] || die "go: cannot download $require from the Go module proxy"
  unzip -p "$zip" "$require/go.sum" >"$work/src/go.sum" 2>/dev/null || true
  {
    printf 'module ekskit.local/build-%s\n\ngo %s\n\nrequire %s\n\n' "$name" \
      "$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")" "${require/@/ }"
    awk '/^(replace|exclude|godebug)[ \t]*\($/ { block = 1; print; next }
      block { print; if ($0 ~ /^\)/) block = 0; next }
      /^(replace|exclude|godebug)[ \t]/ { print }' "$gomod" | grep -Ev '=>[[:space:]]*\.\.?/' || true
    [[ $name != k8s* ]] || k8s_replaces "${require#*@}"
  } >"$work/src/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for b in "${bins[@]}"; do printf '\t_ "%s"\n' "${b#*=}"; done
    printf ')\n'
  } >"$work/src/tools.go"
  (
    cd "$work/src"
    export GOFLAGS=-mod=mod CGO_ENABLED=0
    ((${#envs[@]} == 0)) || export "${envs[@]?}"
    go mod tidy >&2
    for b in "${bins[@]}"; do
      go build -trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$work/bin/${b%%=*}" "${b#*=}" >&2
    done
  ) || die "go: building $name failed (log above); re-run to retry"
  rm -rf "$out"
  mv "$work/bin" "$out"
  rm -rf "$work"
  go_unlock
  log "go: built $name in $((SECONDS - started))s into $out"
}

# k8s_replaces VERSION: replace directives mapping k8s.io/kubernetes' staging modules to the
# published ones of the same release (v1.34.4 -> v0.34.4), read from its own go.mod.
k8s_replaces() {
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$1" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  [[ -s $gomod ]] || die "kube: cannot download k8s.io/kubernetes@$1 from the Go module proxy"
  printf '\nreplace (\n'
  sed -nE "s#^[[:space:]]*(k8s\.io/[a-z0-9-]+) => \./staging/src/k8s\.io/[a-z0-9-]+#\t\1 => \1 v0.${1#v1.}#p" "$gomod"
  printf ')\n'
}

# kube_build: build whatever part is missing from the cache.
kube_build() {
  local minor=${KUBE_VERSION#*.}
  minor=${minor%%.*}
  local k8s_ldflags="-X k8s.io/component-base/version.gitVersion=v$KUBE_VERSION"
  k8s_ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  k8s_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  k8s_ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=v$KUBE_VERSION"
  [[ -x $KUBE_BIN/kubectl ]] ||
    go_build k8s "$KUBE_BIN" "k8s.io/kubernetes@v$KUBE_VERSION" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl -- "$k8s_ldflags"
  [[ -x $ETCD_BIN/etcd ]] ||
    go_build etcd "$ETCD_BIN" "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" etcd=go.etcd.io/etcd/server/v3
  [[ -x $NODE_BIN/kubelet ]] ||
    go_build k8s-node "$NODE_BIN" "k8s.io/kubernetes@v$KUBE_VERSION" \
      k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy -- "$k8s_ldflags"
  # kwok only when asked for (EKSKIT_KWOK_NODES): the real node runs the Pods.
  [[ -z ${EKSKIT_KWOK_NODES:-} || -x $KWOK_BIN/kwok ]] ||
    go_build kwok "$KWOK_BIN" "sigs.k8s.io/kwok@v$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
}
