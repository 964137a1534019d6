# shellcheck shell=bash
#
# gitops: what checking the GitOps tree (deploy/) and the CI definitions needs, nothing that
# runs: helm, built from helm.sh/helm/v3 through the Go module proxy like the control plane
# (kube-build.sh's go_build); Argo CD's Application and AppProject CRDs and its install manifest,
# taken from the argo-cd module's zip on the same proxy (manifests/), so tests can install them
# and have the API server check Applications; and actionlint for .github/workflows.
# The add-ons' CRDs and Helm charts (deploy/addons/), at the versions of
# deploy/addons/versions.env, from the same proxy: Gateway API's standard channel, cert-manager,
# External Secrets, Karpenter (NodePool and EC2NodeClass), so tests apply deploy/addons to the
# real API server and `helm template` the charts with the Applications' values. The AWS Load
# Balancer Controller and the Cluster Autoscaler are not on the proxy at the pinned versions
# (see deploy/README.md).
# YAML readers for checking tagbump's edits the way the toolchain reads them: PyYAML (YAML 1.1)
# and ruamel.yaml (YAML 1.2) in a pinned venv; helm and `kubectl kustomize` read with go-yaml.
# Cached under $CACHE_DIR/gitops/; cold: ~3 min for helm on 2 cores, ~1 for actionlint.

HELM_VERSION=3.22.0
ARGOCD_VERSION=3.1.9
HELM_BIN=$CACHE_DIR/gitops/helm-v$HELM_VERSION
ARGOCD_CRDS=$CACHE_DIR/gitops/argocd-crds-v$ARGOCD_VERSION
ARGOCD_INSTALL=$CACHE_DIR/gitops/argocd-install-v$ARGOCD_VERSION
ACTIONLINT_VERSION=1.7.12
ACTIONLINT_BIN=$CACHE_DIR/gitops/actionlint-v$ACTIONLINT_VERSION
PYYAML_VERSION=6.0.3
RUAMEL_VERSION=0.18.17
YAML_READERS_VENV=$CACHE_DIR/gitops/yaml-readers-pyyaml$PYYAML_VERSION-ruamel$RUAMEL_VERSION
# shellcheck source=deploy/addons/versions.env
source "$LIB_DIR/../../deploy/addons/versions.env"
GATEWAY_API_CRDS=$CACHE_DIR/gitops/gateway-api-crds-v$GATEWAY_API_VERSION
CERT_MANAGER_CRDS=$CACHE_DIR/gitops/cert-manager-crds-v$CERT_MANAGER_VERSION
CERT_MANAGER_CHART=$CACHE_DIR/gitops/cert-manager-chart-v$CERT_MANAGER_VERSION
EXTERNAL_SECRETS_CRDS=$CACHE_DIR/gitops/external-secrets-crds-v$EXTERNAL_SECRETS_VERSION
EXTERNAL_SECRETS_CHART=$CACHE_DIR/gitops/external-secrets-chart-v$EXTERNAL_SECRETS_VERSION
KARPENTER_CRDS=$CACHE_DIR/gitops/karpenter-crds-v$KARPENTER_VERSION
KARPENTER_CHART=$CACHE_DIR/gitops/karpenter-chart-v$KARPENTER_VERSION
# NAME MODULE@VERSION DIR-IN-ZIP CACHE-DIR, one line per add-on part taken from the proxy.
addon_parts() {
  cat <<PARTS
gateway-api-crds sigs.k8s.io/gateway-api@v$GATEWAY_API_VERSION config/crd/standard $GATEWAY_API_CRDS
cert-manager-crds github.com/cert-manager/cert-manager@v$CERT_MANAGER_VERSION deploy/crds $CERT_MANAGER_CRDS
cert-manager-chart github.com/cert-manager/cert-manager@v$CERT_MANAGER_VERSION deploy/charts/cert-manager $CERT_MANAGER_CHART
external-secrets-crds github.com/external-secrets/external-secrets@v$EXTERNAL_SECRETS_VERSION config/crds/bases $EXTERNAL_SECRETS_CRDS
external-secrets-chart github.com/external-secrets/external-secrets@v$EXTERNAL_SECRETS_VERSION deploy/charts/external-secrets $EXTERNAL_SECRETS_CHART
karpenter-crds github.com/aws/karpenter-provider-aws@v$KARPENTER_VERSION pkg/apis/crds $KARPENTER_CRDS
karpenter-chart github.com/aws/karpenter-provider-aws@v$KARPENTER_VERSION charts/karpenter $KARPENTER_CHART
PARTS
}

gitops_packages() { echo unzip python3-venv; }
gitops_where() { echo "$HELM_BIN/helm, $ARGOCD_CRDS/, $ARGOCD_INSTALL/, $ACTIONLINT_BIN/actionlint, $YAML_READERS_VENV/, add-on CRDs and charts in $CACHE_DIR/gitops/"; }
gitops_ready() {
  [[ -x $HELM_BIN/helm && -s $ARGOCD_CRDS/appproject-crd.yaml && -s $ARGOCD_INSTALL/install.yaml && -x $ACTIONLINT_BIN/actionlint ]] || return 1
  [[ -f $YAML_READERS_VENV/.installed ]] || return 1
  local module path dir
  while read -r _ module path dir; do
    [[ -d $dir ]] || return 1
  done < <(addon_parts)
}
gitops_down() { log "gitops: nothing to stop (helm and the CRDs stay cached)"; }

gitops_up() {
  [[ -x $HELM_BIN/helm ]] ||
    go_build helm "$HELM_BIN" "helm.sh/helm/v3@v$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
      -- "-X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
  [[ -x $ACTIONLINT_BIN/actionlint ]] ||
    go_build actionlint "$ACTIONLINT_BIN" "github.com/rhysd/actionlint@v$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint
  [[ -f $YAML_READERS_VENV/.installed ]] || yaml_readers_install
  [[ -s $ARGOCD_CRDS/appproject-crd.yaml ]] || argocd_extract "$ARGOCD_CRDS" manifests/crds/application-crd.yaml manifests/crds/appproject-crd.yaml
  [[ -s $ARGOCD_INSTALL/install.yaml ]] || argocd_extract "$ARGOCD_INSTALL" manifests/install.yaml
  local module path dir
  while read -r _ module path dir; do
    [[ -d $dir ]] || module_extract "$dir" "$module" "$path"
  done < <(addon_parts)
}

# yaml_readers_install: the venv of PyYAML and ruamel.yaml (pure Python: no compiler needed).
yaml_readers_install() {
  log "gitops: installing PyYAML==$PYYAML_VERSION and ruamel.yaml==$RUAMEL_VERSION into $YAML_READERS_VENV"
  rm -rf "$YAML_READERS_VENV"
  python3 -m venv "$YAML_READERS_VENV"
  "$YAML_READERS_VENV/bin/pip" install --quiet --disable-pip-version-check \
    "PyYAML==$PYYAML_VERSION" "ruamel.yaml==$RUAMEL_VERSION" >&2
  touch "$YAML_READERS_VENV/.installed"
}

# module_zip MODULE@VERSION: the path of the module's zip, downloaded from the Go module proxy.
module_zip() {
  local zip
  # -json reports the zip even when the module's go directive is newer than this Go (and then
  # exits non-zero, hence the || true: the zip's presence is what counts).
  zip=$({ go mod download -json "$1" || true; } | sed -n 's/^\t"Zip": "\(.*\)",$/\1/p')
  [[ -s $zip ]] || die "gitops: cannot download $1 from the Go module proxy"
  echo "$zip"
}

# module_extract DIR MODULE@VERSION PATH: the files under PATH in the module's zip into DIR,
# paths kept relative to PATH (atomically: an interrupted run leaves no DIR behind).
module_extract() {
  local dir=$1 module=$2 path=$3 zip
  zip=$(module_zip "$module")
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  unzip -q -d "$dir.tmp" "$zip" "$module/$path/*"
  rm -rf "$dir"
  mv "$dir.tmp/$module/$path" "$dir"
  rm -rf "$dir.tmp"
  log "gitops: $module $path in $dir"
}

# argocd_extract DIR FILE...: FILEs of the argo-cd module's zip into DIR (atomically).
argocd_extract() {
  local dir=$1 zip prefix="github.com/argoproj/argo-cd/v3@v$ARGOCD_VERSION" files=()
  shift
  zip=$(module_zip "$prefix")
  local f
  for f in "$@"; do files+=("$prefix/$f"); done
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  unzip -q -j -d "$dir.tmp" "$zip" "${files[@]}"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  log "gitops: Argo CD v$ARGOCD_VERSION $* in $dir"
}
