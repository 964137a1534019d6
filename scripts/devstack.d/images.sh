# shellcheck shell=bash
#
# images: the images a real node of the local stack runs, built here and pushed to the stack's
# open registry (127.0.0.1:REGISTRY_PORT, exported as EKSKIT_REGISTRY) as
# <registry>/<upstream host>/<upstream path>:<tag>. The node's containerd maps the upstream hosts
# to those paths (hosts.toml override_path), so manifests keep their upstream image names.
# Nothing can be pulled from Docker Hub, quay.io, ghcr.io, registry.k8s.io or public.ecr.aws
# here, so each image is made again: its program is built through the Go module proxy (cached
# per version under $CACHE_DIR/images/) and put on local/debian:bookworm (the base component)
# with the upstream image's user, entrypoint, command, working directory and the files the
# manifests rely on. Each image gets the labels org.opencontainers.image.version, .revision and
# .source. Its version command must report the expected version before it is pushed.
# Warm: one HEAD request per image. An image is built again only when the registry lacks it,
# and Docker's layer cache makes that quick.
#
# What differs from upstream, and why:
#   - redis: Argo CD's install.yaml names public.ecr.aws/docker/library/redis:7.2.11-alpine,
#     but no Redis 7.2 source can be reached here. The image carries Debian bookworm's
#     redis-server (7.0.x) under that name, so the manifest works unchanged. Its version label
#     says 7.0.x, read from the binary. Argo CD uses Redis as a cache, and 7.0 serves the same
#     commands and the manifest's flags.
#   - dex (ghcr.io/dexidp/dex:v2.43.0) is not built. Its module path has no /v2 suffix, so the
#     proxy refuses v2.43.0, v2.43.0+incompatible and the tag's commit (403). Faking it under
#     that name would be worse than not having it: without SSO configured, argocd-dex-server
#     has nothing to do, and the installer scales it to zero.
#   - Grafana is not built: github.com/grafana/grafana is AGPL and must not be used here.
#   - argocd and prometheus serve no web UI: the UI is npm/yarn output that is not in the Go
#     modules. Their APIs work. The argocd image carries helm 3.22.0 (the gitops component's)
#     where upstream bundles 3.18.4; a label records it.
#   - pause is a 30-line Go stand-in for kubernetes' build/pause/linux/pause.c.
#   - Debian bookworm instead of ubuntu, alpine, busybox or distroless: a shell and coreutils are
#     there.
# Cold on 2 cores, each Go build timed from an empty build cache (modules already downloaded):
# argocd 5.1 min (kustomize 0.3 more), prometheus 4.7, kube-state-metrics 2.0, coredns 2.0,
# alertmanager 1.0, node exporter 0.4, pause 0.1; about 16 minutes of Go builds, one at a time
# per machine (kube-build.sh's lock), plus under 2 minutes of image builds and pushes. Programs
# cached, registry empty: about 30 s.

IMAGES_DIR=$CACHE_DIR/images
IMAGES_REGISTRY=127.0.0.1:$REGISTRY_PORT
IMG_KUSTOMIZE_VERSION=5.7.0 # what Argo CD 3.1.9's hack/tool-versions.sh pins (kustomize5_version)
IMG_REDIS_REF=public.ecr.aws/docker/library/redis:7.2.11-alpine
IMG_COREDNS_VERSION=1.12.1
IMG_PROMETHEUS_VERSION=3.5.0
IMG_PROMETHEUS_MODULE_VERSION=0.305.0 # Prometheus 3.x is module version 0.3xx
IMG_ALERTMANAGER_VERSION=0.28.1
IMG_NODE_EXPORTER_VERSION=1.9.1
IMG_KSM_VERSION=2.16.0
IMG_PAUSE_VERSION=3.10
# The upstream commit of each release tag, for the version commands. The module proxy serves the
# code but not these commits; they come from the projects' git tags.
IMG_ARGOCD_COMMIT=8665140f96f6b238a20e578dba7f9aef91ddac51
IMG_COREDNS_COMMIT=707c7c10acd52cb94e959e76ae233d9b76af0854
IMG_PROMETHEUS_COMMIT=8be3a9560fbdd18a94dedec4b747c35178177202
IMG_ALERTMANAGER_COMMIT=b2099eaa2c9ebc25edb26517cb9c732738e93910
IMG_NODE_EXPORTER_COMMIT=f2ec547b49af53815038a50265aa2adcd1275959
IMG_KSM_COMMIT=291a9628407643cc8ef134e1f877709aad012fdd

# KEY UPSTREAM-NAME, one line per image. The names are the ones used by Argo CD's install.yaml,
# node.sh (CoreDNS, containerd's sandbox image) and lib/mon/src/stack.rs (the monitoring stack).
images_list() {
  cat <<LIST
argocd quay.io/argoproj/argocd:v$ARGOCD_VERSION
redis $IMG_REDIS_REF
coredns registry.k8s.io/coredns/coredns:v$IMG_COREDNS_VERSION
prometheus quay.io/prometheus/prometheus:v$IMG_PROMETHEUS_VERSION
alertmanager quay.io/prometheus/alertmanager:v$IMG_ALERTMANAGER_VERSION
node_exporter quay.io/prometheus/node-exporter:v$IMG_NODE_EXPORTER_VERSION
kube_state_metrics registry.k8s.io/kube-state-metrics/kube-state-metrics:v$IMG_KSM_VERSION
pause registry.k8s.io/pause:$IMG_PAUSE_VERSION
LIST
}

images_names() { images_list | awk '{ printf "%s%s", sep, $2; sep = " " }'; }

# curl for the registry's API; unzip for files from the modules' zips (Argo CD's scripts,
# Prometheus' example configuration); libcap2-bin for CoreDNS's file capability.
images_packages() { echo curl unzip libcap2-bin; }
images_where() {
  echo "$(images_list | wc -l) images at http://$IMAGES_REGISTRY/v2/<upstream host>/<path> ($(images_list | awk '{ printf "%s%s", sep, $1; sep = ", " }')); programs in $IMAGES_DIR/"
}
images_ready() {
  local key ref
  while read -r key ref; do
    images_in_registry "$ref" || return 1
  done < <(images_list)
}
images_down() { log "images: nothing to stop (the images stay in the registry, the programs in $IMAGES_DIR)"; }

# images_in_registry REF: true when the registry serves REF's manifest.
images_in_registry() {
  curl -sf -o /dev/null -I --max-time 5 \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$IMAGES_REGISTRY/v2/${1%:*}/manifests/${1##*:}"
}

images_up() {
  curl -sf -o /dev/null --max-time 2 "http://$IMAGES_REGISTRY/v2/" ||
    die "images: the registry at $IMAGES_REGISTRY does not answer: devstack up registry images"
  base_ready || die "images: $BASE_IMAGE is missing: devstack up base images"
  [[ -x $HELM_BIN/helm ]] || die "images: Argo CD's image needs helm ($HELM_BIN): devstack up gitops images"
  images_check_install
  log "images: ghcr.io/dexidp/dex:v2.43.0 is not built: the Go module proxy does not serve dex v2.43.0 (see images.sh)"
  local key ref
  while read -r key ref; do
    images_in_registry "$ref" || images_make "$key" "$ref"
  done < <(images_list)
}

# images_check_install: warn about images Argo CD's install.yaml names that this list lacks
# (a new Argo CD version needs its Redis here too).
images_check_install() {
  local install=$ARGOCD_INSTALL/install.yaml ref
  [[ -s $install ]] || return 0
  while read -r ref; do
    [[ $ref == ghcr.io/dexidp/dex:* || " $(images_names) " == *" $ref "* ]] ||
      log "images: warning: $install uses $ref, which images.sh does not build"
  done < <(sed -n 's/^ *image: *//p' "$install" | sort -u)
}

# images_make KEY REF: build REF's programs if needed, its image from a generated Dockerfile in a
# throwaway context (removed even when the build fails), run its version check, push it.
IMAGES_CTX=
images_make() {
  local key=$1 ref=$2 tag=$IMAGES_REGISTRY/$2 started=$SECONDS
  "images_programs_$key"
  mkdir -p "$IMAGES_DIR" "$LOG_DIR"
  IMAGES_CTX=$(mktemp -d "$IMAGES_DIR/context.XXXXXX")
  trap images_ctx_cleanup EXIT
  "images_context_$key" "$IMAGES_CTX"
  log "images: building $ref"
  if ! docker build -t "$tag" "$IMAGES_CTX" >>"$LOG_DIR/images.log" 2>&1; then
    log "images: building $ref failed; last lines of $LOG_DIR/images.log:"
    tail -n 25 "$LOG_DIR/images.log" >&2
    exit 1
  fi
  images_ctx_cleanup
  trap - EXIT
  if declare -F "images_after_$key" >/dev/null; then "images_after_$key" "$tag"; fi
  images_verify "$key" "$tag"
  docker push "$tag" >>"$LOG_DIR/images.log" 2>&1 || die "images: docker push $tag failed (see $LOG_DIR/images.log)"
  log "images: pushed $tag in $((SECONDS - started))s"
}

# images_verify KEY TAG: run the image's version command; fail unless it names the version.
images_verify() {
  local key=$1 tag=$2 out expect entry='' args=()
  case $key in
    argocd) args=(argocd version --client --short) expect="argocd: v$ARGOCD_VERSION" ;;
    redis) args=(--version) expect="Redis server v=$(images_label "$tag" org.opencontainers.image.version) " ;;
    coredns) args=(-version) expect="CoreDNS-$IMG_COREDNS_VERSION" ;;
    prometheus) args=(--version) expect="prometheus, version $IMG_PROMETHEUS_VERSION " ;;
    alertmanager) args=(--version) expect="alertmanager, version $IMG_ALERTMANAGER_VERSION " ;;
    node_exporter) args=(--version) expect="node_exporter, version $IMG_NODE_EXPORTER_VERSION " ;;
    # Its entrypoint carries --port flags, which its `version` subcommand refuses (upstream's too).
    kube_state_metrics) entry=/kube-state-metrics args=(version) expect="kube-state-metrics, version v$IMG_KSM_VERSION " ;;
    pause) args=(-v) expect="pause $IMG_PAUSE_VERSION " ;;
    *) die "images: no version check for $key" ;;
  esac
  out=$(docker run --rm ${entry:+--entrypoint "$entry"} "$tag" "${args[@]}" 2>&1) || true
  [[ $out == *"$expect"* ]] || die "images: '$tag ${args[*]}' printed '$out', not '$expect'"
  log "images: $tag: ${out%%$'\n'*}"
}

images_ctx_cleanup() {
  [[ -z $IMAGES_CTX ]] || rm -rf "$IMAGES_CTX"
  IMAGES_CTX=
}

images_label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1"; }

# --- Go programs --------------------------------------------------------------------------------

# images_promu_ldflags VERSION REVISION: the version variables Prometheus' promu sets (also used
# by kube-state-metrics' Makefile), so that --version tells the truth.
images_promu_ldflags() {
  local p=github.com/prometheus/common/version
  printf -- '-X %s.Version=%s -X %s.Revision=%s -X %s.Branch=HEAD -X %s.BuildUser=%s@%s -X %s.BuildDate=%s' \
    "$p" "$1" "$p" "$2" "$p" "$p" "$(id -un)" "$(hostname)" "$p" "$(date -u +%Y%m%d-%H:%M:%S)"
}

# images_gomod_version GOMOD MODULE: MODULE's version in GOMOD, the replacement's if replaced.
images_gomod_version() {
  local v
  v=$(sed -nE "s#^[[:space:]]*$2( v[^ ]+)? => $2 (v[^ ]+).*#\2#p" "$1" | head -n 1)
  [[ -n $v ]] || v=$(sed -nE "s#^[[:space:]]*(require )?$2 (v[^ ]+).*#\2#p" "$1" | head -n 1)
  echo "$v"
}

IMG_ARGOCD_BIN=$IMAGES_DIR/argocd-v$ARGOCD_VERSION
IMG_KUSTOMIZE_BIN=$IMAGES_DIR/kustomize-v$IMG_KUSTOMIZE_VERSION
IMG_COREDNS_BIN=$IMAGES_DIR/coredns-v$IMG_COREDNS_VERSION
IMG_PROMETHEUS_BIN=$IMAGES_DIR/prometheus-v$IMG_PROMETHEUS_VERSION
IMG_ALERTMANAGER_BIN=$IMAGES_DIR/alertmanager-v$IMG_ALERTMANAGER_VERSION
IMG_NODE_EXPORTER_BIN=$IMAGES_DIR/node_exporter-v$IMG_NODE_EXPORTER_VERSION
IMG_KSM_BIN=$IMAGES_DIR/kube-state-metrics-v$IMG_KSM_VERSION
IMG_PAUSE_BIN=$IMAGES_DIR/pause-$IMG_PAUSE_VERSION

images_programs_argocd() {
  if [[ ! -x $IMG_ARGOCD_BIN/argocd ]]; then
    # The variables the Makefile sets (common/version.go); with a commit, a tag and a clean tree
    # the version reads v3.1.9 as a release's does.
    local module=github.com/argoproj/argo-cd/v3 p=github.com/argoproj/argo-cd/v3/common gomod
    gomod=$(go mod download -json "$module@v$ARGOCD_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
    [[ -s $gomod ]] || die "images: cannot download $module@v$ARGOCD_VERSION from the Go module proxy"
    go_build argocd "$IMG_ARGOCD_BIN" "$module@v$ARGOCD_VERSION" "argocd=$module/cmd" -- \
      "-X $p.version=$ARGOCD_VERSION -X $p.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ) -X $p.gitCommit=$IMG_ARGOCD_COMMIT -X $p.gitTag=v$ARGOCD_VERSION -X $p.gitTreeState=clean -X $p.kubectlVersion=$(images_gomod_version "$gomod" k8s.io/client-go)"
  fi
  [[ -x $IMG_KUSTOMIZE_BIN/kustomize ]] ||
    go_build kustomize "$IMG_KUSTOMIZE_BIN" "sigs.k8s.io/kustomize/kustomize/v5@v$IMG_KUSTOMIZE_VERSION" \
      "kustomize=sigs.k8s.io/kustomize/kustomize/v5" -- \
      "-X sigs.k8s.io/kustomize/api/provenance.version=v$IMG_KUSTOMIZE_VERSION -X sigs.k8s.io/kustomize/api/provenance.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
images_programs_redis() { :; }
images_programs_coredns() {
  # Upstream's Makefile sets the short commit (`coredns -version` prints it); the version is in
  # the source (coremain.CoreVersion).
  [[ -x $IMG_COREDNS_BIN/coredns ]] ||
    go_build coredns "$IMG_COREDNS_BIN" "github.com/coredns/coredns@v$IMG_COREDNS_VERSION" \
      "coredns=github.com/coredns/coredns" -- "-X github.com/coredns/coredns/coremain.GitCommit=${IMG_COREDNS_COMMIT:0:7}"
}
images_programs_prometheus() {
  # promu's tags are netgo and builtinassets. builtinassets embeds web/ui/static, which is npm
  # output not in the module, so it is left out: no web UI, the API works.
  [[ -x $IMG_PROMETHEUS_BIN/prometheus ]] ||
    go_build prometheus "$IMG_PROMETHEUS_BIN" "github.com/prometheus/prometheus@v$IMG_PROMETHEUS_MODULE_VERSION" \
      --tags netgo prometheus=github.com/prometheus/prometheus/cmd/prometheus \
      promtool=github.com/prometheus/prometheus/cmd/promtool -- \
      "$(images_promu_ldflags "$IMG_PROMETHEUS_VERSION" "$IMG_PROMETHEUS_COMMIT")"
}
images_programs_alertmanager() {
  [[ -x $IMG_ALERTMANAGER_BIN/alertmanager ]] ||
    go_build alertmanager "$IMG_ALERTMANAGER_BIN" "github.com/prometheus/alertmanager@v$IMG_ALERTMANAGER_VERSION" \
      --tags netgo alertmanager=github.com/prometheus/alertmanager/cmd/alertmanager \
      amtool=github.com/prometheus/alertmanager/cmd/amtool -- \
      "$(images_promu_ldflags "$IMG_ALERTMANAGER_VERSION" "$IMG_ALERTMANAGER_COMMIT")"
}
images_programs_node_exporter() {
  [[ -x $IMG_NODE_EXPORTER_BIN/node_exporter ]] ||
    go_build node_exporter "$IMG_NODE_EXPORTER_BIN" "github.com/prometheus/node_exporter@v$IMG_NODE_EXPORTER_VERSION" \
      node_exporter=github.com/prometheus/node_exporter -- \
      "$(images_promu_ldflags "$IMG_NODE_EXPORTER_VERSION" "$IMG_NODE_EXPORTER_COMMIT")"
}
images_programs_kube_state_metrics() {
  # The proxy serves k8s.io/kube-state-metrics/v2 v2.16.0, but the checksum database answers 404
  # for it, so that one module is not checked there. Its dependencies are, or against its go.sum.
  [[ -x $IMG_KSM_BIN/kube-state-metrics ]] ||
    go_build kube-state-metrics "$IMG_KSM_BIN" "k8s.io/kube-state-metrics/v2@v$IMG_KSM_VERSION" \
      --env GONOSUMDB=k8s.io/kube-state-metrics kube-state-metrics=k8s.io/kube-state-metrics/v2 -- \
      "$(images_promu_ldflags "v$IMG_KSM_VERSION" "${IMG_KSM_COMMIT:0:7}")"
}

# images_programs_pause: what the sandbox container runs. Like pause.c: -v prints the version,
# SIGINT and SIGTERM end it with status 0, SIGCHLD reaps (it is PID 1 when a Pod shares its
# process namespace). A static Go program needs no C toolchain, and no module is downloaded.
images_programs_pause() {
  [[ -x $IMG_PAUSE_BIN/pause ]] && return 0
  go_lock
  if [[ -x $IMG_PAUSE_BIN/pause ]]; then go_unlock && return 0; fi
  local work=$IMG_PAUSE_BIN.build
  rm -rf "$work"
  mkdir -p "$work/src" "$work/bin"
  printf 'module ekskit.local/pause\n\ngo 1.24.0\n' >"$work/src/go.mod"
  cat >"$work/src/main.go" <<'GO'
// pause: the sandbox process of a Pod, as kubernetes' build/pause/linux/pause.c.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

var version = "dev"

func main() {
	for _, arg := range os.Args[1:] {
		if strings.EqualFold(arg, "-v") {
			fmt.Printf("pause %s (ekskit devstack's Go stand-in for pause.c)\n", version)
			return
		}
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", sig)
			os.Exit(0)
		}
		for {
			if pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
GO
  (
    cd "$work/src"
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$IMG_PAUSE_VERSION" -o "$work/bin/pause" . >&2
  ) || die "go: building pause failed (log above); re-run to retry"
  rm -rf "$IMG_PAUSE_BIN"
  mv "$work/bin" "$IMG_PAUSE_BIN"
  rm -rf "$work"
  go_unlock
}

# --- Dockerfiles --------------------------------------------------------------------------------

# images_sources: apt sources for the builds: the base image's mirror (base.sh's debian_mirror)
# with bookworm-updates and, when the mirror is a plain .../debian one, its debian-security twin,
# so that the images carry Debian's fixes.
images_sources() {
  local mirror
  mirror=$(debian_mirror)
  mirror=${mirror%/}
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror"
  [[ $mirror != */debian ]] || printf 'deb %s-security bookworm-security main\n' "$mirror"
}

# images_prelude CTX: the first lines of every Debian-based Dockerfile, the same in all of them
# so that Docker builds their layers once: PATH (docker import leaves the base without one, and
# CRI runtimes add none), the apt sources, Debian's updates and CA certificates. policy-rc.d
# keeps package scripts from starting services during the build. Docker's layer cache keeps this
# layer until the cache is pruned: updates come with the next cold build.
images_prelude() {
  images_sources >"$1/sources.list"
  printf 'FROM %s\n' "$BASE_IMAGE"
  cat <<'DOCKERFILE'
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY sources.list /etc/apt/sources.list
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates && apt-get clean && rm -rf /var/lib/apt/lists/*
DOCKERFILE
}

# images_labels VERSION REVISION SOURCE [KEY=VALUE...]: the LABEL line; a SOURCE given as a module
# path (github.com/owner/repo) becomes its https URL.
images_labels() {
  local source=$3
  [[ $source != github.com/* ]] || source=https://$source
  printf 'LABEL org.opencontainers.image.version="%s" org.opencontainers.image.revision="%s"' "$1" "$2"
  printf ' org.opencontainers.image.source="%s"' "$source"
  printf ' org.opencontainers.image.vendor="ekskit devstack (built locally, not the upstream image)"'
  shift 3
  local kv
  for kv in "$@"; do printf ' %s="%s"' "${kv%%=*}" "${kv#*=}"; done
  printf '\n'
}

# images_link SRC DST: a hard link into the context when on the same file system, else a copy.
images_link() { ln -f "$1" "$2" 2>/dev/null || cp -f "$1" "$2"; }

# Argo CD as its Dockerfile's argocd-base and final stages: user argocd (999, numeric so that
# runAsNonRoot can be checked) with home /home/argocd, git, git-lfs, gpg, ssh, tini as the
# entrypoint (the manifests' args start with the program, argv[0] picks the component), helm,
# kustomize, the wrapper scripts, /app/config, and the component links. Packages come with
# their recommended ones, as upstream's apt-get does.
images_context_argocd() {
  local ctx=$1 zip prefix="github.com/argoproj/argo-cd/v3@v$ARGOCD_VERSION" b
  zip=$(module_zip "$prefix")
  unzip -q -j -d "$ctx" "$zip" "$prefix/entrypoint.sh" "$prefix/hack/gpg-wrapper.sh" "$prefix/hack/git-verify-wrapper.sh"
  chmod 755 "$ctx"/*.sh
  images_link "$IMG_ARGOCD_BIN/argocd" "$ctx/argocd"
  images_link "$IMG_KUSTOMIZE_BIN/kustomize" "$ctx/kustomize"
  images_link "$HELM_BIN/helm" "$ctx/helm"
  {
    images_prelude "$ctx"
    cat <<'DOCKERFILE'
RUN groupadd -g 999 argocd && useradd -r -u 999 -g argocd argocd && mkdir -p /home/argocd && chown argocd:0 /home/argocd && chmod g=u /home/argocd && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git git-lfs tini gpg tzdata connect-proxy openssh-client && apt-get clean && rm -rf /var/lib/apt/lists/* /tmp/* /var/tmp/*
COPY gpg-wrapper.sh git-verify-wrapper.sh entrypoint.sh /usr/local/bin/
COPY helm kustomize /usr/local/bin/
RUN ln -s /usr/local/bin/entrypoint.sh /usr/local/bin/uid_entrypoint.sh
WORKDIR /app/config/ssh
RUN touch ssh_known_hosts && ln -s /app/config/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts
WORKDIR /app/config
RUN mkdir -p tls gpg/source gpg/keys && chown argocd gpg/keys && chmod 0700 gpg/keys
ENV USER=argocd
COPY argocd /usr/local/bin/argocd
DOCKERFILE
    printf 'RUN'
    for b in server repo-server cmp-server application-controller dex notifications applicationset-controller k8s-auth commit-server; do
      printf ' ln -s /usr/local/bin/argocd /usr/local/bin/argocd-%s &&' "$b"
    done
    printf ' true\n'
    cat <<'DOCKERFILE'
USER 999
WORKDIR /home/argocd
ENTRYPOINT ["/usr/bin/tini", "--"]
DOCKERFILE
    images_labels "v$ARGOCD_VERSION" "$IMG_ARGOCD_COMMIT" github.com/argoproj/argo-cd \
      "io.ekskit.helm.version=v$HELM_VERSION" "io.ekskit.kustomize.version=v$IMG_KUSTOMIZE_VERSION"
  } >"$ctx/Dockerfile"
}

# Redis from Debian's package (see the header for the name), as the official image runs it: user
# redis 999:999, /data, and redis-server as the entrypoint so the manifest's args (--save ""
# --appendonly no --requirepass ...) reach it. The official image's entrypoint also prepends
# redis-server to args that start with "-" and switches from root to redis. The version label
# is added after the build, from the binary (images_after_redis).
images_context_redis() {
  {
    images_prelude "$1"
    cat <<'DOCKERFILE'
RUN groupadd -r -g 999 redis && useradd -r -g redis -u 999 -d /data -s /usr/sbin/nologin redis && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server && apt-get clean && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
VOLUME /data
WORKDIR /data
USER 999:999
EXPOSE 6379
ENTRYPOINT ["redis-server"]
DOCKERFILE
  } >"$1/Dockerfile"
}
images_after_redis() {
  local tag=$1 version
  version=$(docker run --rm "$tag" --version | sed -n 's/^Redis server v=\([^ ]*\) .*/\1/p')
  [[ -n $version ]] || die "images: cannot read redis-server's version in $tag"
  printf 'FROM %s\n%s' "$tag" \
    "$(images_labels "$version" "" https://salsa.debian.org/debian/redis "io.ekskit.name-says=7.2.11 (Argo CD's pin; no Redis 7.2 here)")" |
    docker build -t "$tag" - >>"$LOG_DIR/images.log" 2>&1 || die "images: labelling $tag failed (see $LOG_DIR/images.log)"
}

# CoreDNS as upstream: /coredns with cap_net_bind_service (so user nonroot, 65532, binds port
# 53), user nonroot:nonroot, workdir /. The capability is set on the file and put in the image
# with ADD of a tar: the builder here drops file capabilities on COPY, but ADD keeps a tar's
# xattrs.
images_context_coredns() {
  local ctx=$1
  cp "$IMG_COREDNS_BIN/coredns" "$ctx/coredns"
  setcap cap_net_bind_service=+ep "$ctx/coredns" || die "images: setcap on coredns failed (needs root)"
  tar --xattrs --xattrs-include=security.capability -C "$ctx" -cf "$ctx/coredns.tar" coredns
  rm -f "$ctx/coredns"
  {
    images_prelude "$ctx"
    cat <<'DOCKERFILE'
RUN groupadd -g 65532 nonroot && useradd -u 65532 -g nonroot -d /home/nonroot -m -s /usr/sbin/nologin nonroot
ADD coredns.tar /
USER nonroot:nonroot
WORKDIR /
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
DOCKERFILE
    images_labels "v$IMG_COREDNS_VERSION" "$IMG_COREDNS_COMMIT" github.com/coredns/coredns
  } >"$ctx/Dockerfile"
}

# Prometheus as upstream: /bin/prometheus and /bin/promtool, the example configuration, workdir
# and volume /prometheus owned by nobody, the default args. Debian's nobody has group nogroup
# (65534 too).
images_context_prometheus() {
  local ctx=$1 prefix=github.com/prometheus/prometheus@v$IMG_PROMETHEUS_MODULE_VERSION zip
  zip=$(module_zip "$prefix")
  unzip -q -j -d "$ctx" "$zip" "$prefix/documentation/examples/prometheus.yml" "$prefix/LICENSE" "$prefix/NOTICE"
  images_link "$IMG_PROMETHEUS_BIN/prometheus" "$ctx/prometheus"
  images_link "$IMG_PROMETHEUS_BIN/promtool" "$ctx/promtool"
  {
    images_prelude "$ctx"
    cat <<'DOCKERFILE'
COPY prometheus promtool /bin/
COPY prometheus.yml /etc/prometheus/prometheus.yml
COPY LICENSE NOTICE /
WORKDIR /prometheus
RUN chown -R nobody:nogroup /etc/prometheus /prometheus && chmod g+w /prometheus
USER nobody
EXPOSE 9090
VOLUME ["/prometheus"]
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
DOCKERFILE
    images_labels "v$IMG_PROMETHEUS_VERSION" "$IMG_PROMETHEUS_COMMIT" github.com/prometheus/prometheus
  } >"$ctx/Dockerfile"
}

images_context_alertmanager() {
  local ctx=$1 prefix=github.com/prometheus/alertmanager@v$IMG_ALERTMANAGER_VERSION zip
  zip=$(module_zip "$prefix")
  unzip -q -j -d "$ctx" "$zip" "$prefix/examples/ha/alertmanager.yml"
  images_link "$IMG_ALERTMANAGER_BIN/alertmanager" "$ctx/alertmanager"
  images_link "$IMG_ALERTMANAGER_BIN/amtool" "$ctx/amtool"
  {
    images_prelude "$ctx"
    cat <<'DOCKERFILE'
COPY amtool alertmanager /bin/
COPY alertmanager.yml /etc/alertmanager/alertmanager.yml
RUN mkdir -p /alertmanager && chown -R nobody:nogroup /etc/alertmanager /alertmanager
USER nobody
EXPOSE 9093
VOLUME ["/alertmanager"]
WORKDIR /alertmanager
ENTRYPOINT ["/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
DOCKERFILE
    images_labels "v$IMG_ALERTMANAGER_VERSION" "$IMG_ALERTMANAGER_COMMIT" github.com/prometheus/alertmanager
  } >"$ctx/Dockerfile"
}

images_context_node_exporter() {
  images_link "$IMG_NODE_EXPORTER_BIN/node_exporter" "$1/node_exporter"
  {
    images_prelude "$1"
    cat <<'DOCKERFILE'
COPY node_exporter /bin/node_exporter
EXPOSE 9100
USER nobody
ENTRYPOINT ["/bin/node_exporter"]
DOCKERFILE
    images_labels "v$IMG_NODE_EXPORTER_VERSION" "$IMG_NODE_EXPORTER_COMMIT" github.com/prometheus/node_exporter
  } >"$1/Dockerfile"
}

# kube-state-metrics as upstream: the ports are in the entrypoint (the manifests give no args).
images_context_kube_state_metrics() {
  images_link "$IMG_KSM_BIN/kube-state-metrics" "$1/kube-state-metrics"
  {
    images_prelude "$1"
    cat <<'DOCKERFILE'
COPY kube-state-metrics /
USER nobody
ENTRYPOINT ["/kube-state-metrics", "--port=8080", "--telemetry-port=8081"]
EXPOSE 8080 8081
DOCKERFILE
    images_labels "v$IMG_KSM_VERSION" "$IMG_KSM_COMMIT" github.com/kubernetes/kube-state-metrics
  } >"$1/Dockerfile"
}

# pause as upstream: nothing but /pause, user 65535:65535.
images_context_pause() {
  images_link "$IMG_PAUSE_BIN/pause" "$1/pause"
  {
    cat <<'DOCKERFILE'
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
DOCKERFILE
    images_labels "$IMG_PAUSE_VERSION" "" "scripts/devstack.d/images.sh of ekskit (stands in for build/pause of k8s.io/kubernetes)"
  } >"$1/Dockerfile"
}
