# shellcheck shell=bash
#
# prometheus: what the monitoring stack's tests check with; nothing runs here.
#   - Debian's prometheus server: the tests run it themselves on ports of their own, scraping
#     the comments API through the generated pod job (with static targets: Debian builds it
#     without Kubernetes service discovery).
#   - promtool built from github.com/prometheus/prometheus through the Go module proxy (like
#     helm in gitops.sh), because Debian's lacks Kubernetes service discovery and so cannot
#     check a configuration that uses it. Cached in $CACHE_DIR/prometheus/; cold: minutes.

PROMETHEUS_MODULE_VERSION=0.316.0
PROMTOOL_BIN=$CACHE_DIR/prometheus/promtool-v$PROMETHEUS_MODULE_VERSION

prometheus_packages() { echo prometheus; }
prometheus_where() { echo "$(command -v prometheus) and $PROMTOOL_BIN/promtool"; }
prometheus_ready() { command -v prometheus >/dev/null && [[ -x $PROMTOOL_BIN/promtool ]]; }
prometheus_down() { log "prometheus: nothing to stop"; }

prometheus_up() {
  command -v prometheus >/dev/null || die "prometheus: the Debian package did not install prometheus"
  [[ -x $PROMTOOL_BIN/promtool ]] ||
    go_build promtool "$PROMTOOL_BIN" "github.com/prometheus/prometheus@v$PROMETHEUS_MODULE_VERSION" \
      github.com/prometheus/prometheus/cmd/promtool
}
