# shellcheck shell=bash
# shellcheck disable=SC2153 # KUBE_BIN, ETCD_BIN and KWOK_BIN are set by kube-build.sh
#
# kube: a real Kubernetes control plane on 127.0.0.1 with TLS: etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler built by kube-build.sh, and eks-authn.py, a token
# webhook that accepts the EKS tokens kapply signs by calling their presigned STS URL on moto.
# The node that runs the Pods is the `node` component (node.sh); the API server advertises the
# host end of the node's link (HOST_IP), where the node's forwarder reaches it.
# With EKSKIT_KWOK_NODES=1, kwok adds a simulated node too, for tests that want many Pods
# without running them: it is tainted (kwok.x-k8s.io/node=fake:NoSchedule) so that only Pods
# tolerating it land there.
# Certificates (openssl) and the admin kubeconfig live in $STATE_DIR/kube.

KUBE_DIR=$STATE_DIR/kube
KUBE_PKI=$KUBE_DIR/pki
KUBECONFIG_FILE=$KUBE_DIR/kubeconfig
KUBE_PORT=${EKSKIT_KUBE_PORT:-$((16443 + PORT_SHIFT))}
ETCD_PORT=${EKSKIT_ETCD_PORT:-$((12379 + PORT_SHIFT))}
AUTHN_PORT=${EKSKIT_AUTHN_PORT:-$((16444 + PORT_SHIFT))}
KUBE_CLUSTER_NAME=ekskit-local
KUBE_SERVICES=(kube_etcd kube_authn kube_apiserver kube_controller_manager kube_scheduler kube_kwok)
KWOK_NODES=${EKSKIT_KWOK_NODES:-}

kube_packages() { echo openssl curl python3-venv unzip; }
kube_where() { echo "https://127.0.0.1:$KUBE_PORT (kubeconfig $KUBECONFIG_FILE)"; }
# Ready: the API server answers and the controllers run (and kwok's node is Ready, when asked for).
kube_ready() {
  [[ -x $KUBE_BIN/kubectl && -s $KUBECONFIG_FILE ]] && kube_api_ready &&
    live_pid kube_controller_manager kube-controller-manager >/dev/null &&
    live_pid kube_scheduler kube-scheduler >/dev/null || return 1
  [[ -n $KWOK_NODES ]] || return 0
  live_pid kube_kwok kwok >/dev/null &&
    kubectl_local get node kwok-node-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null |
    grep -qx True
}
kubectl_local() { "$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" --request-timeout=5s "$@"; }

kube_prepare() { kube_build; }

kube_down() {
  local i
  for ((i = ${#KUBE_SERVICES[@]} - 1; i >= 0; i--)); do
    stop_service "${KUBE_SERVICES[i]}" "$("${KUBE_SERVICES[i]}_proc")" 10
  done
}
# The word each service's command line contains (stop_service trusts a pid file only then).
kube_etcd_proc() { echo etcd; }
kube_authn_proc() { echo eks-authn; }
kube_apiserver_proc() { echo kube-apiserver; }
kube_controller_manager_proc() { echo kube-controller-manager; }
kube_scheduler_proc() { echo kube-scheduler; }
kube_kwok_proc() { echo kwok; }

kube_up() {
  kube_down 2>/dev/null
  kube_pki
  local p=$KUBE_PKI
  log "kube: starting etcd, kube-apiserver, controller-manager and scheduler on 127.0.0.1:$KUBE_PORT"
  spawn kube_etcd "$ETCD_BIN/etcd" --name ekskit --data-dir "$KUBE_DIR/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls http://127.0.0.1:0 --listen-metrics-urls "" --log-level warn
  wait_ready kube_etcd 30 curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"
  spawn kube_authn "$(command -v python3)" "$LIB_DIR/eks-authn.py" "127.0.0.1:$AUTHN_PORT" \
    "$KUBE_CLUSTER_NAME" "http://127.0.0.1:$MOTO_PORT"
  wait_ready kube_authn 15 curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$AUTHN_PORT/healthz"
  spawn kube_apiserver "$KUBE_BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address "$HOST_IP" --secure-port "$KUBE_PORT" \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" --client-ca-file "$p/ca.crt" \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC --authentication-token-webhook-config-file "$KUBE_DIR/authn.kubeconfig" \
    --authentication-token-webhook-cache-ttl 10s --allow-privileged --enable-admission-plugins NodeRestriction \
    --kubelet-client-certificate "$p/apiserver-kubelet-client.crt" --kubelet-client-key "$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP --profiling=false --max-requests-inflight 1000 --max-mutating-requests-inflight 500
  wait_ready kube_apiserver 90 kube_api_ready
  spawn kube_controller_manager "$KUBE_BIN/kube-controller-manager" --kubeconfig "$KUBE_DIR/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" --kube-api-qps 200 --kube-api-burst 400 \
    --concurrent-deployment-syncs 20 --concurrent-replicaset-syncs 20 --controllers '*,-nodeipam'
  spawn kube_scheduler "$KUBE_BIN/kube-scheduler" --kubeconfig "$KUBE_DIR/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false --kube-api-qps 200 --kube-api-burst 400
  if [[ -n $KWOK_NODES ]]; then kube_kwok_up; else kubectl_local delete node kwok-node-0 --ignore-not-found >/dev/null 2>&1 || true; fi
  wait_ready kube_controller_manager 60 kube_ready
}

kube_kwok_up() {
  # A kwok restarted on old etcd data would wait for its predecessor's node lease to expire.
  until kubectl_local delete lease -n kube-node-lease kwok-node-0 --ignore-not-found >/dev/null 2>&1; do sleep 0.2; done
  kube_kwok_config
  spawn kube_kwok "$KWOK_BIN/kwok" --kubeconfig "$KUBECONFIG_FILE" --config "$KUBE_DIR/kwok.yaml" \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --cidr 10.244.0.1/16 --node-ip 10.0.0.1 \
    --node-lease-duration-seconds 40
  kube_node
}

# kube_kwok_config: kwok's own fast pod stages (from its module source; any pod stage given
# replaces all the built-in ones) plus kwok-image-pull.yaml.
kube_kwok_config() {
  local src
  src=$(go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d $src/kustomize/stage/pod/fast ]] || die "kube: cannot find kwok's stages in the Go module cache"
  local f
  for f in "$src"/kustomize/stage/pod/fast/pod-{ready,complete,delete}.yaml "$LIB_DIR/kwok-image-pull.yaml"; do
    printf -- '---\n'
    cat "$f"
  done >"$KUBE_DIR/kwok.yaml"
}

kube_api_ready() {
  curl -sf -o /dev/null --max-time 2 --cacert "$KUBE_PKI/ca.crt" --cert "$KUBE_PKI/admin.crt" \
    --key "$KUBE_PKI/admin.key" "https://127.0.0.1:$KUBE_PORT/readyz"
}

# kube_node: the simulated node kwok manages; roomy enough for the benchmark's Pods; tainted so
# that nothing lands on it by accident.
kube_node() {
  kubectl_local apply --server-side --field-manager devstack -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
spec:
  taints: [{key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}]
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "2000"}
  capacity: {cpu: "64", memory: 256Gi, pods: "2000"}
YAML
}

# kube_pki: a CA, the serving certificate, client certificates for the admin and the
# controllers, the service account key pair, and the kubeconfigs that use them. Kept across
# restarts (regenerated if the CA is missing).
kube_pki() {
  local p=$KUBE_PKI
  if [[ ! -s $p/ca.crt ]]; then
    log "kube: creating certificates in $p"
    rm -rf "$p"
    mkdir -p "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ekskit-local-ca" \
      -keyout "$p/ca.key" -out "$p/ca.crt" 2>/dev/null
    kube_cert admin "/O=system:masters/CN=kubernetes-admin"
    kube_cert controller-manager "/CN=system:kube-controller-manager"
    kube_cert scheduler "/CN=system:kube-scheduler"
    openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
    openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
  fi
  # A serving certificate from before the node existed lacks the addresses Pods and kubelet use;
  # a CA from then has no certificate for the API server's calls to kubelet.
  if [[ -s $p/apiserver.crt ]] && ! openssl x509 -in "$p/apiserver.crt" -noout -ext subjectAltName 2>/dev/null |
    grep -q "IP Address:$HOST_IP,.*IP Address:$KUBERNETES_SERVICE_IP\b"; then
    rm -f "$p/apiserver.crt"
  fi
  [[ -s $p/apiserver.crt ]] || kube_apiserver_cert
  [[ -s $p/apiserver-kubelet-client.crt ]] ||
    kube_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  kube_kubeconfig admin "$KUBECONFIG_FILE"
  kube_kubeconfig controller-manager "$KUBE_DIR/controller-manager.kubeconfig"
  kube_kubeconfig scheduler "$KUBE_DIR/scheduler.kubeconfig"
  cat >"$KUBE_DIR/authn.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: eks-authn, cluster: {server: "http://127.0.0.1:$AUTHN_PORT/authenticate"}}]
users: [{name: apiserver, user: {}}]
contexts: [{name: webhook, context: {cluster: eks-authn, user: apiserver}}]
current-context: webhook
YAML
}

kube_apiserver_cert() {
  kube_cert apiserver "/CN=kube-apiserver" \
    "subjectAltName=IP:127.0.0.1,IP:$HOST_IP,IP:$KUBERNETES_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
}

# kube_cert NAME SUBJECT [SAN]: an X.509 v3 certificate signed by the CA; a server certificate
# when SAN is given, else a client one (rustls refuses v1 certificates, which plain
# `openssl x509 -req` makes).
kube_cert() {
  local name=$1 subject=$2 san=${3:-} p=$KUBE_PKI usage=clientAuth
  [[ -z $san ]] || usage=serverAuth
  openssl req -new -newkey rsa:2048 -nodes -subj "$subject" -keyout "$p/$name.key" -out "$p/$name.csr" 2>/dev/null
  openssl x509 -req -in "$p/$name.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial -days 3650 \
    -out "$p/$name.crt" -extfile <(
      printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
      printf 'extendedKeyUsage=%s\n' "$usage"
      [[ -z $san ]] || printf '%s\n' "$san"
    ) 2>/dev/null
}

# kube_kubeconfig USER FILE [SERVER]: a kubeconfig for USER's client certificate.
kube_kubeconfig() {
  local p=$KUBE_PKI server=${3:-https://127.0.0.1:$KUBE_PORT}
  cat >"$2" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: $KUBE_CLUSTER_NAME
  cluster: {server: "$server", certificate-authority-data: $(base64 -w0 "$p/ca.crt")}
users:
- name: $1
  user: {client-certificate-data: $(base64 -w0 "$p/$1.crt"), client-key-data: $(base64 -w0 "$p/$1.key")}
contexts:
- name: $KUBE_CLUSTER_NAME
  context: {cluster: $KUBE_CLUSTER_NAME, user: $1}
current-context: $KUBE_CLUSTER_NAME
YAML
  chmod 600 "$2"
}
