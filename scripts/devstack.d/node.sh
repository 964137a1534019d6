# shellcheck shell=bash
# shellcheck disable=SC2153,SC2034 # NODE_BIN, KUBE_PKI, the ports are set, KUBERNETES_SERVICE_IP used, by the other component files
#
# node: a real Kubernetes node for the kube component's control plane, the way a kubeadm node
# runs: Debian's containerd + runc + CNI plugins, kubelet and kube-proxy built at the control
# plane's version (kube-build.sh), a bridge network with host-local IPAM, Services through
# kube-proxy's iptables rules, and CoreDNS for cluster DNS.
#
# The node lives in a network namespace of its own (NODE_NETNS) joined to the host by a veth
# pair: the node's address NODE_IP is not loopback (kubelet refuses one, and `kubectl logs/exec/
# port-forward` need one), kube-proxy's rules stay inside it (two stacks' nodes cannot fight
# over the host's chains), and `down` removes every interface with the namespace. Only the
# network is separate: containerd and kubelet share the host's mounts (`nsenter --net`, not
# `ip netns exec`, whose private mount namespace would hide kubelet's Secret volumes from runc).
#
# The node reaches the host's services only through forwarders on the host end of the link
# (HOST_IP): the API server, the registry (for containerd's pulls; Pods are refused it), the git
# daemon (Argo CD's repo server) and PostgreSQL (the app). Nothing is routed beyond the host:
# the namespace has no default route and nothing is masqueraded outward. The host routes the
# Pod and Service ranges to the node, so tests reach Pods and ClusterIPs directly.
#
# Images come from the stack's registry: containerd's hosts.toml files map docker.io, quay.io,
# ghcr.io, registry.k8s.io and public.ecr.aws to <registry>/<host>/... (the `images` component
# pushes them there), and the registry's own 127.0.0.1 name to HOST_IP, so manifests keep the
# names they have upstream and in the GitOps tree.

NODE_NAME=ekskit-node
NODE_DIR=$STATE_DIR/node
NODE_NETNS=ekskit-node-$STACK_INDEX
NODE_HOST_IF=eknode$STACK_INDEX
HOST_IP=10.212.$STACK_INDEX.1
NODE_IP=10.212.$STACK_INDEX.2
POD_CIDR=10.213.$STACK_INDEX.0/24
SERVICE_CIDR=10.$((96 + STACK_INDEX)).0.0/16
KUBERNETES_SERVICE_IP=10.$((96 + STACK_INDEX)).0.1
DNS_SERVICE_IP=10.$((96 + STACK_INDEX)).0.10
COREDNS_IMAGE=registry.k8s.io/coredns/coredns:v1.12.1
PAUSE_IMAGE=registry.k8s.io/pause:3.10
MIRRORED_REGISTRIES=(docker.io quay.io ghcr.io registry.k8s.io public.ecr.aws)
CONTAINERD_SOCK=$NODE_DIR/containerd/containerd.sock
# Host services the node reaches, as NAME:PORT (the forwarders' names).
node_forwards() {
  printf '%s\n' "kube:$KUBE_PORT" "registry:$REGISTRY_PORT" "git:$GIT_PORT" "postgres:$PG_PORT"
}


node_packages() { echo containerd runc containernetworking-plugins socat iptables iproute2 util-linux; }
node_where() { echo "$NODE_NAME at $NODE_IP (Pods $POD_CIDR, Services $SERVICE_CIDR, DNS $DNS_SERVICE_IP)"; }
node_containerd_proc() { echo containerd; }
node_kubelet_proc() { echo kubelet; }
node_proxy_proc() { echo kube-proxy; }
node_fwd_kube_proc() { echo socat; }
node_fwd_registry_proc() { echo socat; }
node_fwd_git_proc() { echo socat; }
node_fwd_postgres_proc() { echo socat; }
node_grace() { echo 20; }

# Ready: kubelet, kube-proxy and the forwarders run, the node reports Ready and CoreDNS is available.
node_ready() {
  live_pid node_kubelet kubelet >/dev/null && live_pid node_proxy kube-proxy >/dev/null || return 1
  local f
  for f in $(node_forwards); do live_pid "node_fwd_${f%%:*}" socat >/dev/null || return 1; done
  [[ $(kubectl_local get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]] &&
    [[ $(kubectl_local -n kube-system get deployment coredns -o jsonpath='{.status.availableReplicas}' 2>/dev/null) -ge 1 ]] 2>/dev/null
}

in_node() { nsenter --net="/run/netns/$NODE_NETNS" -- "$@"; }

node_up() {
  node_down 2>/dev/null
  node_mounts
  node_network
  node_pki
  node_containerd
  node_kubelet
  node_proxy
  node_coredns
  wait_ready node_kubelet 180 node_ready
}

node_down() {
  local f
  # Pods first, while containerd still runs: their sandboxes, mounts and veths go with them.
  if live_pid node_containerd containerd >/dev/null && live_pid node_kubelet kubelet >/dev/null; then
    kubectl_local delete node "$NODE_NAME" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  stop_service node_proxy kube-proxy 10
  stop_service node_kubelet kubelet 20
  node_remove_containers
  stop_service node_containerd containerd 20
  for f in $(node_forwards); do stop_service "node_fwd_${f%%:*}" socat 5; done
  node_unmount
  if ip netns list 2>/dev/null | grep -qw "$NODE_NETNS"; then
    log "node: removing network namespace $NODE_NETNS and its interfaces"
    ip netns del "$NODE_NETNS"
  fi
  ip link del "$NODE_HOST_IF" 2>/dev/null || true
  ip route del "$POD_CIDR" 2>/dev/null || true
  ip route del "$SERVICE_CIDR" 2>/dev/null || true
}

# node_remove_containers: stop and remove every Pod sandbox the node's containerd holds, so no
# container process or network namespace outlives the stack.
node_remove_containers() {
  [[ -S $CONTAINERD_SOCK ]] && live_pid node_containerd containerd >/dev/null || return 0
  local ctr=(ctr --address "$CONTAINERD_SOCK" -n k8s.io) id
  for id in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
    "${ctr[@]}" tasks kill -s KILL "$id" >/dev/null 2>&1 || true
  done
  sleep 1
  for id in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks rm -f "$id" >/dev/null 2>&1 || true; done
  for id in $("${ctr[@]}" containers ls -q 2>/dev/null); do "${ctr[@]}" containers rm "$id" >/dev/null 2>&1 || true; done
}

# node_unmount: what kubelet and containerd mounted under the node's directory (Secret volumes,
# sandbox shm, overlay rootfs), deepest first; the Pods' network namespaces (containerd names
# them cni-*; this node's are those holding an address of its Pod range); leftover shims.
node_unmount() {
  local m ns prefix=${POD_CIDR%.*}.
  awk -v r="$NODE_DIR/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ { print $1 }'); do
    if ip netns exec "$ns" ip -4 -o addr show 2>/dev/null | grep -qF " $prefix"; then
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  pkill -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" 2>/dev/null || true
  rm -rf "$NODE_DIR/cni-ipam"
}

# node_mounts: / as a shared mount, as systemd makes it on every host it boots: kubelet's
# mountPropagation (node exporter's HostToContainer view of /, CSI drivers' Bidirectional
# mounts) needs it, and a host started without systemd leaves it private.
node_mounts() {
  if [[ $(findmnt -no PROPAGATION /) == private ]]; then
    log "node: making / a shared mount (as systemd does) for kubelet's mount propagation"
    mount --make-rshared /
  fi
}

# node_network: the namespace, the veth pair, the routes and the forwarders on the host end.
node_network() {
  log "node: network namespace $NODE_NETNS, $NODE_HOST_IF $HOST_IP <-> eth0 $NODE_IP"
  ip netns add "$NODE_NETNS"
  ip link add "$NODE_HOST_IF" type veth peer name eth0 netns "$NODE_NETNS"
  ip addr add "$HOST_IP/30" dev "$NODE_HOST_IF"
  ip link set "$NODE_HOST_IF" up
  in_node ip link set lo up
  in_node ip addr add "$NODE_IP/30" dev eth0
  in_node ip link set eth0 up
  # The node forwards between its Pods' bridge and the link; bridged Pod traffic must pass
  # iptables so kube-proxy's Service rules see it (a Pod reaching a Service backed by a Pod on
  # the same bridge).
  in_node sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  ip route replace "$POD_CIDR" via "$NODE_IP" dev "$NODE_HOST_IF"
  ip route replace "$SERVICE_CIDR" via "$NODE_IP" dev "$NODE_HOST_IF"
  # Pods may not use the registry's forwarder: images are the node's business.
  in_node iptables -w -I FORWARD -s "$POD_CIDR" -d "$HOST_IP" -p tcp --dport "$REGISTRY_PORT" \
    -m comment --comment "ekskit: Pods do not reach the registry" -j REJECT
  local f name port
  for f in $(node_forwards); do
    name=${f%%:*} port=${f#*:}
    spawn "node_fwd_$name" socat "TCP-LISTEN:$port,bind=$HOST_IP,fork,reuseaddr" "TCP:127.0.0.1:$port"
  done
  for f in $(node_forwards); do
    wait_ready "node_fwd_${f%%:*}" 10 bash -c "exec 3<>/dev/tcp/$HOST_IP/${f#*:}" 2>/dev/null
  done
}

# node_pki: client certificates for kubelet (system:node:NAME) and kube-proxy, and the
# kubeconfigs they use to reach the API server through the host end of the link.
node_pki() {
  local p=$KUBE_PKI
  [[ -s $p/kubelet.crt ]] || kube_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  [[ -s $p/kube-proxy.crt ]] || kube_cert kube-proxy "/CN=system:kube-proxy"
  mkdir -p "$NODE_DIR"
  kube_kubeconfig kubelet "$NODE_DIR/kubelet.kubeconfig" "https://$HOST_IP:$KUBE_PORT"
  kube_kubeconfig kube-proxy "$NODE_DIR/kube-proxy.kubeconfig" "https://$HOST_IP:$KUBE_PORT"
}

node_containerd() {
  local d=$NODE_DIR/containerd reg
  mkdir -p "$d/certs.d" "$d/cni"
  for reg in "${MIRRORED_REGISTRIES[@]}"; do
    mkdir -p "$d/certs.d/$reg"
    # server is the mirror too: no fallback to the real registry, which is not to be reached.
    cat >"$d/certs.d/$reg/hosts.toml" <<TOML
server = "http://$HOST_IP:$REGISTRY_PORT/v2/$reg"
[host."http://$HOST_IP:$REGISTRY_PORT/v2/$reg"]
  capabilities = ["pull", "resolve"]
  override_path = true
TOML
  done
  mkdir -p "$d/certs.d/127.0.0.1:$REGISTRY_PORT"
  cat >"$d/certs.d/127.0.0.1:$REGISTRY_PORT/hosts.toml" <<TOML
server = "http://$HOST_IP:$REGISTRY_PORT"
[host."http://$HOST_IP:$REGISTRY_PORT"]
  capabilities = ["pull", "resolve"]
TOML
  cat >"$d/cni/10-ekskit.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "ekskit",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$NODE_DIR/cni-ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
JSON
  cat >"$d/config.toml" <<TOML
# written by scripts/devstack (node.sh): a containerd of the node's own, beside dockerd's
version = 2
root = "$d/root"
state = "$d/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = "$d/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Without it every sandbox fails on this kernel: runc may not lower its oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$d/certs.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
TOML
  log "node: starting containerd ($CONTAINERD_SOCK)"
  spawn node_containerd nsenter --net="/run/netns/$NODE_NETNS" -- containerd --config "$d/config.toml"
  wait_ready node_containerd 30 ctr --address "$CONTAINERD_SOCK" version
}

node_kubelet() {
  local d=$NODE_DIR/kubelet
  mkdir -p "$d" "$NODE_DIR/pod-logs"
  cat >"$NODE_DIR/kubelet.yaml" <<YAML
# written by scripts/devstack (node.sh)
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# This kernel mounts cgroup v1; kubelet 1.34 refuses it unless told, and QoS cgroups need
# controllers this host does not delegate.
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $KUBE_PKI/ca.crt}
authorization: {mode: Webhook}
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
# No host resolver for Pods with dnsPolicy Default: names outside the cluster do not resolve.
resolvConf: ""
podLogsDir: $NODE_DIR/pod-logs
serializeImagePulls: false
# The host's disk is shared with everything else: evict only when it is really full.
evictionHard: {memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%}
imageGCHighThresholdPercent: 98
imageGCLowThresholdPercent: 95
YAML
  log "node: starting kubelet as $NODE_NAME ($NODE_IP)"
  supervise node_kubelet nsenter --net="/run/netns/$NODE_NETNS" -- "$NODE_BIN/kubelet" \
    --config "$NODE_DIR/kubelet.yaml" --kubeconfig "$NODE_DIR/kubelet.kubeconfig" --root-dir "$d" \
    --cert-dir "$d/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --node-labels "kubernetes.io/os=linux,node.kubernetes.io/instance-type=local"
}

node_proxy() {
  cat >"$NODE_DIR/kube-proxy.yaml" <<YAML
# written by scripts/devstack (node.sh)
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $NODE_DIR/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
nodePortAddresses: [$NODE_IP/32]
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# The namespace cannot change the host-wide conntrack table size or timeouts: leave them.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
  log "node: starting kube-proxy"
  supervise node_proxy nsenter --net="/run/netns/$NODE_NETNS" -- "$NODE_BIN/kube-proxy" --config "$NODE_DIR/kube-proxy.yaml"
}

# supervise NAME CMD...: spawn CMD restarted 2 s after it exits, as a node's systemd unit does
# (Restart=always): kubelet exits when containerd's CRI is not initialized yet, which comes a
# moment after containerd answers. TERM stops the command and the loop.
supervise() {
  local name=$1
  shift
  # shellcheck disable=SC2016 # expanded by the supervising shell
  spawn "$name" bash -c 'trap '\''kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0'\'' TERM
    while :; do
      "$@" & child=$!
      wait "$child" && rc=0 || rc=$?
      echo "supervise: $0 exited with status $rc; restarting it in 2 s" >&2
      sleep 2
    done' "$name" "$@"
}

# node_coredns: cluster DNS as kubeadm installs it, answering cluster.local only: no `forward`
# plugin, so no query leaves the machine.
node_coredns() {
  kubectl_local apply --server-side --force-conflicts --field-manager devstack -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- {apiGroups: [""], resources: [endpoints, services, pods, namespaces], verbs: [list, watch]}
- {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health {
            lameduck 5s
        }
        ready
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 30
        }
        prometheus :9153
        cache 30
        loop
        reload
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      containers:
      - name: coredns
        image: $COREDNS_IMAGE
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {containerPort: 53, name: dns, protocol: UDP}
        - {containerPort: 53, name: dns-tcp, protocol: TCP}
        - {containerPort: 9153, name: metrics, protocol: TCP}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}
          readOnlyRootFilesystem: true
        livenessProbe: {httpGet: {path: /health, port: 8080}, initialDelaySeconds: 10, periodSeconds: 10}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
        resources: {requests: {cpu: 50m, memory: 70Mi}, limits: {memory: 170Mi}}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes:
      - name: config
        configMap: {name: coredns, items: [{key: Corefile, path: Corefile}]}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
  annotations: {prometheus.io/port: "9153", prometheus.io/scrape: "true"}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: $DNS_SERVICE_IP
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
  - {name: metrics, port: 9153, protocol: TCP}
YAML
}
