# shellcheck shell=bash
#
# gitops: what checking the GitOps tree (deploy/) needs, nothing that runs: helm, built from
# helm.sh/helm/v3 through the Go module proxy like the control plane (kube-build.sh's go_build),
# and Argo CD's Application and AppProject CRDs, taken from the argo-cd module's zip on the same
# proxy (manifests/crds/), so tests can install them and have the API server check Applications.
# Cached under $CACHE_DIR/gitops/; cold: ~3 min for helm on 2 cores, seconds for the CRDs.

HELM_VERSION=3.22.0
ARGOCD_VERSION=3.1.9
HELM_BIN=$CACHE_DIR/gitops/helm-v$HELM_VERSION
ARGOCD_CRDS=$CACHE_DIR/gitops/argocd-crds-v$ARGOCD_VERSION

gitops_packages() { echo unzip; }
gitops_where() { echo "$HELM_BIN/helm, $ARGOCD_CRDS/"; }
gitops_ready() { [[ -x $HELM_BIN/helm && -s $ARGOCD_CRDS/application-crd.yaml && -s $ARGOCD_CRDS/appproject-crd.yaml ]]; }
gitops_down() { log "gitops: nothing to stop (helm and the CRDs stay cached)"; }

gitops_up() {
  [[ -x $HELM_BIN/helm ]] ||
    go_build helm "$HELM_BIN" "helm.sh/helm/v3@v$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
      -- "-X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
  if [[ ! -s $ARGOCD_CRDS/appproject-crd.yaml ]]; then
    local zip work=$ARGOCD_CRDS.tmp
    # -json reports the zip even when the module's go directive is newer than this Go.
    zip=$(go mod download -json "github.com/argoproj/argo-cd/v3@v$ARGOCD_VERSION" | sed -n 's/^\t"Zip": "\(.*\)",$/\1/p')
    [[ -s $zip ]] || die "gitops: cannot download github.com/argoproj/argo-cd/v3@v$ARGOCD_VERSION from the Go module proxy"
    rm -rf "$work"
    mkdir -p "$work"
    unzip -q -j -d "$work" "$zip" \
      "github.com/argoproj/argo-cd/v3@v$ARGOCD_VERSION/manifests/crds/application-crd.yaml" \
      "github.com/argoproj/argo-cd/v3@v$ARGOCD_VERSION/manifests/crds/appproject-crd.yaml"
    rm -rf "$ARGOCD_CRDS"
    mv "$work" "$ARGOCD_CRDS"
    log "gitops: Argo CD v$ARGOCD_VERSION CRDs in $ARGOCD_CRDS"
  fi
}
