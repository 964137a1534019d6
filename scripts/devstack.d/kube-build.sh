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

# go_build NAME OUTDIR MODULE@VERSION PACKAGE... [-- LDFLAGS]: build PACKAGEs of MODULE into
# OUTDIR (atomically: a failed or interrupted build leaves no OUTDIR behind).
go_build() {
  local name=$1 out=$2 require=$3 ldflags="-s -w" pkgs=()
  shift 3
  while (($#)); do
    if [[ $1 == -- ]]; then ldflags+=" $2"; break; fi
    pkgs+=("$1")
    shift
  done
  command -v go >/dev/null || die "go: building $name needs Go (https://go.dev/dl); none is on PATH"
  # One Go build at a time on this machine (two stacks, or a stack and a test, starting together
  # would otherwise build the same thing twice on the same cores); another run may have built it.
  mkdir -p "$CACHE_DIR"
  exec 8>"$CACHE_DIR/go-build.lock"
  flock 8
  if [[ -d $out ]]; then exec 8>&-; return 0; fi
  local work=$out.build
  rm -rf "$work"
  mkdir -p "$work/src" "$work/bin"
  log "go: building $name ($require) through the Go module proxy; the first time takes minutes"
  {
    printf 'module ekskit.local/build-%s\n\ngo 1.24.0\n\nrequire %s\n' "$name" "${require/@/ }"
    [[ $name != k8s* ]] || k8s_replaces "${require#*@}"
  } >"$work/src/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    printf '\t_ "%s"\n' "${pkgs[@]}"
    printf ')\n'
  } >"$work/src/tools.go"
  local started=$SECONDS
  (
    cd "$work/src"
    export GOFLAGS=-mod=mod CGO_ENABLED=0
    go mod tidy >&2
    go build -trimpath -ldflags "$ldflags" -o "$work/bin/" "${pkgs[@]}" >&2
  ) || die "go: building $name failed (log above); re-run to retry"
  rm -rf "$out"
  mv "$work/bin" "$out"
  rm -rf "$work"
  exec 8>&-
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
  if [[ ! -x $ETCD_BIN/etcd ]]; then
    go_build etcd "$ETCD_BIN" "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" go.etcd.io/etcd/server/v3
    mv "$ETCD_BIN/v3" "$ETCD_BIN/etcd" 2>/dev/null || mv "$ETCD_BIN/server" "$ETCD_BIN/etcd"
  fi
  [[ -x $NODE_BIN/kubelet ]] ||
    go_build k8s-node "$NODE_BIN" "k8s.io/kubernetes@v$KUBE_VERSION" \
      k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy -- "$k8s_ldflags"
  # kwok only when asked for (EKSKIT_KWOK_NODES): the real node runs the Pods.
  [[ -z ${EKSKIT_KWOK_NODES:-} || -x $KWOK_BIN/kwok ]] ||
    go_build kwok "$KWOK_BIN" "sigs.k8s.io/kwok@v$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
}
