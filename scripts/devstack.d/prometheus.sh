# shellcheck shell=bash
# shellcheck disable=SC2153 # IMG_PROMETHEUS_BIN and IMG_PROMETHEUS_VERSION are set by images.sh
#
# prometheus: what the monitoring stack's tests check with; nothing runs here.
#   - Debian's prometheus server: the tests run it themselves on ports of their own, scraping
#     the comments API through the generated pod job (with static targets: Debian builds it
#     without Kubernetes service discovery).
#   - promtool, because Debian's lacks Kubernetes service discovery and so cannot check a
#     configuration that uses it: the one built with the Prometheus image the stack runs
#     (images.sh, from github.com/prometheus/prometheus through the Go module proxy), so the
#     configuration is checked by the same release that loads it, and built once. Cold: minutes.

PROMTOOL_BIN=$IMG_PROMETHEUS_BIN

prometheus_packages() { echo prometheus; }
prometheus_where() { echo "$(command -v prometheus) and $PROMTOOL_BIN/promtool (Prometheus $IMG_PROMETHEUS_VERSION)"; }
prometheus_ready() { command -v prometheus >/dev/null && [[ -x $PROMTOOL_BIN/promtool ]]; }
prometheus_down() { log "prometheus: nothing to stop"; }

prometheus_up() {
  command -v prometheus >/dev/null || die "prometheus: the Debian package did not install prometheus"
  images_programs_prometheus
}
