# shellcheck shell=bash
#
# gitops: what checking the GitOps tree (deploy/) and the CI definitions needs, nothing that
# runs: helm, built from helm.sh/helm/v3 through the Go module proxy like the control plane
# (kube-build.sh's go_build); Argo CD's Application and AppProject CRDs and its install manifest,
# taken from the argo-cd module's zip on the same proxy (manifests/), so tests can install them
# and have the API server check Applications; and actionlint for .github/workflows.
# Cached under $CACHE_DIR/gitops/; cold: ~3 min for helm on 2 cores, ~1 for actionlint.

HELM_VERSION=3.22.0
ARGOCD_VERSION=3.1.9
HELM_BIN=$CACHE_DIR/gitops/helm-v$HELM_VERSION
ARGOCD_CRDS=$CACHE_DIR/gitops/argocd-crds-v$ARGOCD_VERSION
ARGOCD_INSTALL=$CACHE_DIR/gitops/argocd-install-v$ARGOCD_VERSION
ACTIONLINT_VERSION=1.7.12
ACTIONLINT_BIN=$CACHE_DIR/gitops/actionlint-v$ACTIONLINT_VERSION

gitops_packages() { echo unzip; }
gitops_where() { echo "$HELM_BIN/helm, $ARGOCD_CRDS/, $ARGOCD_INSTALL/, $ACTIONLINT_BIN/actionlint"; }
gitops_ready() { [[ -x $HELM_BIN/helm && -s $ARGOCD_CRDS/appproject-crd.yaml && -s $ARGOCD_INSTALL/install.yaml && -x $ACTIONLINT_BIN/actionlint ]]; }
gitops_down() { log "gitops: nothing to stop (helm and the CRDs stay cached)"; }

gitops_up() {
  [[ -x $HELM_BIN/helm ]] ||
    go_build helm "$HELM_BIN" "helm.sh/helm/v3@v$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
      -- "-X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
  [[ -x $ACTIONLINT_BIN/actionlint ]] ||
    go_build actionlint "$ACTIONLINT_BIN" "github.com/rhysd/actionlint@v$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint
  [[ -s $ARGOCD_CRDS/appproject-crd.yaml ]] || argocd_extract "$ARGOCD_CRDS" manifests/crds/application-crd.yaml manifests/crds/appproject-crd.yaml
  [[ -s $ARGOCD_INSTALL/install.yaml ]] || argocd_extract "$ARGOCD_INSTALL" manifests/install.yaml
}

# argocd_extract DIR FILE...: FILEs of the argo-cd module's zip into DIR (atomically).
argocd_extract() {
  local dir=$1 zip prefix="github.com/argoproj/argo-cd/v3@v$ARGOCD_VERSION" files=()
  shift
  # -json reports the zip even when the module's go directive is newer than this Go.
  zip=$(go mod download -json "$prefix" | sed -n 's/^\t"Zip": "\(.*\)",$/\1/p')
  [[ -s $zip ]] || die "gitops: cannot download $prefix from the Go module proxy"
  local f
  for f in "$@"; do files+=("$prefix/$f"); done
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  unzip -q -j -d "$dir.tmp" "$zip" "${files[@]}"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  log "gitops: Argo CD v$ARGOCD_VERSION $* in $dir"
}
