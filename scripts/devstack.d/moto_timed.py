"""moto_timed: AWS that takes time, for the resources a timing rule matches.

moto makes clusters, node groups, NAT gateways (and moto-ekskit.py's add-ons) ready at once and
deletes them at once. A resource that matches a rule instead passes through its real states for
durations scaled from AWS's, and ends ready or, when the rule says so, in its real failed state
carrying the reason AWS gives; its deletion waits in DELETING/deleting, then it is gone (a NAT
gateway: `deleted`). Nothing else changes, so what no rule matches stays as fast as before.

| kind      | created: states, AWS time           | failed (rule `fail`)                   | deleted: states, AWS time  |
|-----------|-------------------------------------|----------------------------------------|----------------------------|
| cluster   | CREATING → ACTIVE, 10 min           | FAILED, `health.issues`                | DELETING → gone, 5 min     |
| nodegroup | CREATING → ACTIVE, 3 min            | CREATE_FAILED (or DEGRADED), `health`  | DELETING → gone, 3 min     |
| addon     | CREATING → ACTIVE, 1 min            | CREATE_FAILED or DEGRADED, `health`    | DELETING → gone, 1 min     |
| nat       | pending → available, 2 min          | failed, `failureCode`/`failureMessage` | deleting → deleted, 1 min  |
| capability| CREATING → ACTIVE, 3 min            | CREATE_FAILED or DEGRADED, `health`    | DELETING → gone, 2 min     |

Node groups and add-ons can fail their deletion instead (`"status": "DELETE_FAILED"`): created
normally, a deletion made while the rule holds ends DELETE_FAILED with the issue, and one made
again once the rule is gone (or says otherwise) deletes it.

Rules, over HTTP on the emulator's own address (JSON in and out):

  POST   /_ekskit/timing                 add a rule, or replace the one with the same `match`
  DELETE /_ekskit/timing?match=<match>   drop that rule (without `match`: every rule)
  GET    /_ekskit/timing                 the rules, and the resources on a clock now

  {"match": "<substring>", "scale": 0.0167, "scales": {"addon": 0.1},
   "fail": {"cluster": "Ec2SubnetNotFound", "nodegroup": "NodeCreationFailure",
            "addon": {"name": "coredns", "code": "InsufficientNumberOfReplicas"},
            "nat": "Gateway.NotAttached"}}

A rule matches a resource when `match` is a substring of its name or id, of its cluster's name
(node groups, add-ons), or of its `ekskit.io/stack` tag; the longest match wins. It is looked up
when the resource is created (the durations and the failure are fixed then) and again when it is
deleted, and when it starts an update (moto_upgrades.py: UPDATING for 8 min for a control plane,
10 for a node group, 1 for an add-on). `scale` (default 1/60: a cluster in 10 s) multiplies AWS's times, `scales` overrides it
per kind. A `fail` entry is an issue code (the message is the one AWS gives for it, filled in with
the resource's own ids) or an object with `code` and any of `message`, `resourceIds`, `status`,
and for add-ons `name` (only that add-on fails; without it every add-on does).

No thread keeps time: before each request the emulator moves on the resources whose time has
come, so what a describe or list answers is what AWS would answer at that moment.
"""

import json
import threading
import time
import urllib.parse
import uuid

PATH = "/_ekskit/timing"
STACK_TAG = "ekskit.io/stack"
DEFAULT_SCALE = 1 / 60

# Seconds AWS takes to create and to delete each kind, roughly, as measured on AWS.
AWS_SECONDS = {"cluster": (600, 300), "nodegroup": (180, 180), "addon": (60, 60), "nat": (120, 60),
               "capability": (180, 120)}
# And to update one to a new version (moto_upgrades.py): the control plane, a node group rolled
# node by node, an add-on.
UPDATE_SECONDS = {"cluster": 480, "nodegroup": 600, "addon": 60}
# (while created, when ready, while deleted) per kind.
STATES = {
    "cluster": ("CREATING", "ACTIVE", "DELETING"),
    "nodegroup": ("CREATING", "ACTIVE", "DELETING"),
    "addon": ("CREATING", "ACTIVE", "DELETING"),
    "nat": ("pending", "available", "deleting"),
    "capability": ("CREATING", "ACTIVE", "DELETING"),
}
# The failed states a rule may ask for; the first is the default. DELETE_FAILED is the end of a
# deletion made while the rule holds (the creation then succeeds).
FAILED = {
    "cluster": ("FAILED",),
    "nodegroup": ("CREATE_FAILED", "DEGRADED", "DELETE_FAILED"),
    "addon": ("CREATE_FAILED", "DEGRADED", "DELETE_FAILED"),
    "nat": ("failed",),
    "capability": ("CREATE_FAILED", "DEGRADED", "DELETE_FAILED"),
}
DELETE_FAILED = "DELETE_FAILED"
# What AWS says for an issue code: (message, the context key of its resource ids). `{…}` are
# filled in from the resource (see _context).
MESSAGES = {
    "cluster": {
        "AccessDenied": ("The cluster role is missing permissions required by EKS", "role"),
        "IamRoleNotFound": ("The cluster role {role} could not be found", "role"),
        "Ec2SubnetNotFound": ("The subnet ID '{subnet}' does not exist", "subnet"),
        "InsufficientFreeAddresses": ("One or more subnets do not have enough free IP addresses", "subnets"),
        "KmsKeyNotFound": ("The KMS key used for secrets encryption could not be found", "key"),
        "KmsKeyDisabled": ("The KMS key used for secrets encryption is disabled", "key"),
        "ResourceLimitExceeded": ("The account has reached its limit of clusters in this region", None),
    },
    "nodegroup": {
        "NodeCreationFailure": ("Instances failed to join the kubernetes cluster", "instances"),
        "AsgInstanceLaunchFailures": (
            (
                "Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have "
                "sufficient {instance_type} capacity in the Availability Zone you requested. Launching EC2 "
                "instance failed."
            ),
            "asg",
        ),
        "IamNodeRoleNotFound": ("The node role {role} could not be found", "role"),
        "PodEvictionFailure": (
            "Reached max retries while trying to evict pods from nodes in node group {name}",
            "instances",
        ),
        "Ec2SecurityGroupDeletionFailure": ("DependencyViolation - resource has a dependent object", "sg"),
        "InstanceLimitExceeded": (
            "You've reached your quota for maximum Fleet Requests for this account. Launching EC2 instance failed.",
            "asg",
        ),
    },
    "addon": {
        "InsufficientNumberOfReplicas": (
            "The add-on is unhealthy because it doesn't have the desired number of replicas.",
            None,
        ),
        "ConfigurationConflict": (
            "Conflicts found when trying to apply. Will not continue due to resolve conflicts mode.",
            None,
        ),
        "AccessDenied": ("The add-on's role is missing permissions required by {addon}", None),
        "AddonPermissionFailure": ("The add-on {addon} could not be granted the permissions it needs", None),
        "ClusterUnreachable": ("Unable to reach the cluster to remove the add-on {addon}'s resources", None),
    },
    "capability": {
        "AccessDenied": ("The capability role {role} is missing permissions or cannot be assumed by EKS", None),
        "ClusterUnreachable": ("The capability {capability} could not reach the cluster's API server", None),
    },
    "nat": {
        "Gateway.NotAttached": ("Network {vpc} has no Internet gateway attached", None),
        "InsufficientFreeAddressesInSubnet": (
            "Subnet has insufficient free addresses to create this NAT gateway",
            None,
        ),
        "Resource.AlreadyAssociated": ("Elastic IP address {allocation} is already associated", None),
        "InvalidAllocationID.NotFound": (
            "Elastic IP address {allocation} could not be associated with this NAT gateway",
            None,
        ),
        "InvalidSubnetID.NotFound": ("The specified subnet {subnet} does not exist or could not be found.", None),
        "InternalError": (
            (
                "Network interface {eni}, created and used internally by this NAT gateway is in an invalid "
                "state. Please try again."
            ),
            None,
        ),
    },
}

RULES = {}  # match -> rule
CONTROLS = {}  # path -> WSGI app of another module's control endpoint (moto_upgrades.py)
CLOCKS = {}  # id(resource) -> Clock; the clock holds the resource, so its id stays its own
LOCK = threading.RLock()


class RuleError(Exception):
    """What is wrong with a rule, answered with 400."""


class Clock:
    """One resource on its way: created or deleted at `started`, done `seconds` later."""

    def __init__(self, kind, resource, phase, seconds, name, failure=None, remove=None):
        self.kind, self.resource, self.phase, self.seconds, self.name = kind, resource, phase, seconds, name
        self.started = time.monotonic()
        self.failure, self.remove = failure, remove

    def summary(self):
        left = max(0.0, self.started + self.seconds - time.monotonic())
        return {
            "kind": self.kind,
            "name": self.name,
            "phase": self.phase,
            "seconds_left": round(left, 2),
            "fails": bool(self.failure),
        }


def _set(kind, resource, status, issue=None):
    """Puts `status` (and the failure's issue) where moto's serializer reads them."""
    issues = [issue] if issue else []
    if kind == "nat":
        resource.state = status
        if issue:
            resource.failure_code, resource.failure_message = issue["code"], issue["message"]
        if status in ("failed", "deleted"):
            _let_go_of_addresses(resource)
    elif kind in ("addon", "capability"):
        resource["status"], resource["health"] = status, {"issues": issues}
    else:
        resource.status, resource.health = status, {"issues": issues}


def _let_go_of_addresses(nat):
    """A failed or deleted NAT gateway holds no Elastic IP: the address can go to a new one."""
    for address in nat.address_set:
        association = address.pop("associationId", None)
        if any(eip.association_id == association for eip in nat.ec2_backend.addresses if association):
            nat.ec2_backend.disassociate_address(association_id=association)


def _context(kind, resource):
    """The resource's own ids, for the messages and resource ids of its failure."""
    if kind == "cluster":
        subnets = (resource.resources_vpc_config or {}).get("subnetIds") or ["subnet-0"]
        keys = [e.get("provider", {}).get("keyArn") for e in resource.encryption_config or []]
        return {
            "role": resource.role_arn,
            "subnet": subnets[0],
            "subnets": subnets,
            "key": next((k for k in keys if k), "unknown"),
        }
    if kind == "nodegroup":
        desired = (resource.scaling_config or {}).get("desiredSize") or 1
        groups = (resource.resources or {}).get("autoScalingGroups") or [{"name": "eks-unknown"}]
        return {
            "name": resource.nodegroup_name,
            "sg": (resource.resources or {}).get("remoteAccessSecurityGroup", "sg-0"),
            "role": resource.node_role,
            "instance_type": (resource.instance_types or ["m7i.large"])[0],
            "asg": groups[0]["name"],
            "instances": [f"i-0{uuid.uuid4().hex[:16]}" for _ in range(desired)],
        }
    if kind == "addon":
        return {"addon": resource["addonName"]}
    if kind == "capability":
        return {"capability": resource["capabilityName"], "role": resource["roleArn"]}
    address = (resource.address_set or [{}])[0]
    return {
        "vpc": resource.vpc_id,
        "subnet": resource.subnet_id,
        "allocation": address.get("allocationId", ""),
        "eni": address.get("networkInterfaceId", ""),
    }


def _failure(kind, spec, context):
    """(status, issue) of a resource whose rule says it fails with `spec`."""
    spec = {"code": spec} if isinstance(spec, str) else dict(spec)
    code = spec["code"]
    message, ids = MESSAGES[kind].get(code, (f"{code}: the emulator's timing rule made this {kind} fail", None))
    if kind == "addon" and "status" not in spec:
        spec["status"] = "DEGRADED" if code == "InsufficientNumberOfReplicas" else "CREATE_FAILED"
    status = spec.get("status") or FAILED[kind][0]
    issue = {"code": code, "message": spec.get("message") or message.format(**context)}
    if kind != "nat":
        found = context.get(ids) if ids else None
        issue["resourceIds"] = spec.get("resourceIds") or (
            [] if found is None else found if isinstance(found, list) else [found]
        )
    return status, issue


def _rule(names):
    """The rule for a resource known by `names`: the longest match that is a substring of one."""
    found = [r for m, r in RULES.items() if any(m in n for n in names if n)]
    return max(found, key=lambda r: len(r["match"]), default=None)


def _seconds(rule, kind, phase):
    scale = rule.get("scales", {}).get(kind, rule["scale"])
    if phase == "update":
        return UPDATE_SECONDS[kind] * scale
    return AWS_SECONDS[kind][0 if phase == "create" else 1] * scale


def _fails(rule, kind, resource, phase):
    """(status, issue) when the rule makes this resource fail in this phase, else None."""
    spec = rule.get("fail", {}).get(kind)
    if spec is None:
        return None
    if kind == "addon" and isinstance(spec, dict) and spec.get("name") not in (None, resource["addonName"]):
        return None
    on_delete = isinstance(spec, dict) and spec.get("status") == DELETE_FAILED
    if on_delete != (phase == "delete"):
        return None
    return _failure(kind, spec, _context(kind, resource))


def start_create(kind, resource, names):
    """A resource was just created: puts it on a clock when a rule matches; whether it did."""
    with LOCK:
        rule = _rule(names)
        if rule is None:
            return False
        failure = _fails(rule, kind, resource, "create")
        CLOCKS[id(resource)] = Clock(kind, resource, "create", _seconds(rule, kind, "create"), names[0], failure)
        _set(kind, resource, STATES[kind][0])
        return True


def start_delete(kind, resource, names, remove):
    """A resource is to be deleted: when a rule matches, it is DELETING now and `remove()` runs
    when its time is up (or it ends DELETE_FAILED, when the rule says so); returns whether that
    is so (else the caller removes it at once)."""
    with LOCK:
        clock = CLOCKS.get(id(resource))
        if clock is not None and clock.phase == "delete":
            return True  # deleted twice: still on its way
        rule = _rule(names)
        if rule is None:
            CLOCKS.pop(id(resource), None)
            return False
        seconds, failure = _seconds(rule, kind, "delete"), _fails(rule, kind, resource, "delete")
        CLOCKS[id(resource)] = Clock(kind, resource, "delete", seconds, names[0], failure, remove)
        _set(kind, resource, STATES[kind][2])
        return True


def start_update(kind, resource, names, finish):
    """A resource starts an update: when a rule matches, it is UPDATING now and `finish()` runs
    when its time is up; returns whether that is so (else the caller finishes it at once)."""
    with LOCK:
        rule = _rule(names)
        if rule is None:
            return False
        CLOCKS[id(resource)] = Clock(kind, resource, "update", _seconds(rule, kind, "update"), names[0], None, finish)
        _set(kind, resource, "UPDATING")
        return True


def advance():
    """Moves on every resource whose time has come: created → ready or failed, deleted → gone
    (or DELETE_FAILED)."""
    with LOCK:
        now = time.monotonic()
        for key, clock in list(CLOCKS.items()):
            if now - clock.started < clock.seconds:
                continue
            del CLOCKS[key]
            if clock.phase == "create" or clock.failure:
                status, issue = clock.failure or (STATES[clock.kind][1], None)
                _set(clock.kind, clock.resource, status, issue)
            else:
                clock.remove()


def _names(*names, tags=None):
    return [n for n in (*names, (tags or {}).get(STACK_TAG)) if isinstance(n, str) and n]


# The rules' HTTP endpoint


def _rule_from(body):
    """A rule from a request body, checked; RuleError says what is wrong."""
    if not isinstance(body, dict):
        raise RuleError("the rule is a JSON object")
    unknown = set(body) - {"match", "scale", "scales", "fail"}
    if unknown:
        raise RuleError(f"unknown keys {sorted(unknown)}; a rule has match, scale, scales, fail")
    match = body.get("match")
    if not isinstance(match, str) or len(match) < 3:
        raise RuleError("match is a string of at least 3 characters (a stack name)")
    scales = body.get("scales") or {}
    scale = body.get("scale", DEFAULT_SCALE)
    for kind, value in [("scale", scale), *scales.items()]:
        if kind != "scale" and kind not in AWS_SECONDS:
            raise RuleError(f"scales: unknown kind {kind!r}; kinds are {sorted(AWS_SECONDS)}")
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 10:
            raise RuleError(f"{kind}: a number above 0 and at most 10, not {value!r}")
    fail = body.get("fail") or {}
    if not isinstance(fail, dict):
        raise RuleError("fail is an object of kind: code (or kind: {code, ...})")
    for kind, spec in fail.items():
        if kind not in AWS_SECONDS:
            raise RuleError(f"fail: unknown kind {kind!r}; kinds are {sorted(AWS_SECONDS)}")
        if isinstance(spec, str) and spec:
            continue
        if not isinstance(spec, dict) or not isinstance(spec.get("code"), str):
            raise RuleError(f"fail.{kind}: an issue code, or an object with a code")
        extra = set(spec) - {"code", "message", "resourceIds", "status"} - ({"name"} if kind == "addon" else set())
        if extra:
            raise RuleError(f"fail.{kind}: unknown keys {sorted(extra)}")
        if spec.get("status", FAILED[kind][0]) not in FAILED[kind]:
            raise RuleError(f"fail.{kind}.status: one of {list(FAILED[kind])}")
    return {"match": match, "scale": scale, "scales": scales, "fail": fail}


def _control(environ, start_response):
    """The WSGI app of /_ekskit/timing."""
    method = environ.get("REQUEST_METHOD", "GET")
    status = "200 OK"
    try:
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            rule = _rule_from(json.loads(environ["wsgi.input"].read(length) if length else b"{}"))
            with LOCK:
                RULES[rule["match"]] = rule
            payload = rule
        elif method == "DELETE":
            match = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("match", [None])[0]
            with LOCK:
                dropped = [m for m in RULES if match in (None, m)]
                for m in dropped:
                    del RULES[m]
            payload = {"dropped": dropped}
        elif method == "GET":
            with LOCK:
                payload = {"rules": list(RULES.values()), "clocks": [c.summary() for c in CLOCKS.values()]}
        else:
            status, payload = "405 Method Not Allowed", {"message": f"{method}: use GET, POST or DELETE"}
    except (RuleError, ValueError) as e:
        status, payload = "400 Bad Request", {"message": str(e)}
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


# Hooks into moto


def _install_eks(forget_cluster):
    from moto.eks.models import EKSBackend

    create_cluster, delete_cluster = EKSBackend.create_cluster, EKSBackend.delete_cluster
    create_nodegroup, delete_nodegroup = EKSBackend.create_nodegroup, EKSBackend.delete_nodegroup

    def timed_create_cluster(self, *args, **kwargs):
        cluster = create_cluster(self, *args, **kwargs)
        start_create("cluster", cluster, _names(cluster.name, tags=cluster.tags))
        return cluster

    def timed_delete_cluster(self, name):
        cluster = self.clusters.get(name)
        if cluster is None or cluster.nodegroup_count:
            return delete_cluster(self, name)  # moto's own answer: not found, or node groups attached

        def remove():
            if self.clusters.get(name) is cluster:
                del self.clusters[name]
                self.cluster_count -= 1
                forget_cluster(self.account_id, self.region_name, name)

        if start_delete("cluster", cluster, _names(name, tags=cluster.tags), remove):
            return cluster
        return delete_cluster(self, name)

    def timed_create_nodegroup(self, *args, **kwargs):
        ng = create_nodegroup(self, *args, **kwargs)
        start_create("nodegroup", ng, _names(ng.nodegroup_name, ng.cluster_name, tags=ng.tags))
        return ng

    def timed_delete_nodegroup(self, cluster_name, nodegroup_name):
        cluster = self.clusters.get(cluster_name)
        ng = cluster.nodegroups.get(nodegroup_name) if cluster else None
        if ng is None:
            return delete_nodegroup(self, cluster_name, nodegroup_name)

        def remove():
            if cluster.nodegroups.get(nodegroup_name) is ng:
                del cluster.nodegroups[nodegroup_name]
                cluster.nodegroup_count -= 1

        if start_delete("nodegroup", ng, _names(nodegroup_name, cluster_name, tags=ng.tags), remove):
            return ng
        return delete_nodegroup(self, cluster_name, nodegroup_name)

    EKSBackend.create_cluster, EKSBackend.delete_cluster = timed_create_cluster, timed_delete_cluster
    EKSBackend.create_nodegroup, EKSBackend.delete_nodegroup = timed_create_nodegroup, timed_delete_nodegroup


def _install_ec2():
    from moto.ec2.models.nat_gateways import NatGatewayBackend

    create, delete = NatGatewayBackend.create_nat_gateway, NatGatewayBackend.delete_nat_gateway

    def tags_of(nat):
        return {t["key"]: t["value"] for t in nat.get_tags()}

    def timed_create(self, *args, **kwargs):
        nat = create(self, *args, **kwargs)
        tags = tags_of(nat)
        start_create("nat", nat, _names(nat.id, tags.get("Name"), tags=tags))
        return nat

    def timed_delete(self, nat_gateway_id):
        nat = self.nat_gateways.get(nat_gateway_id)
        if nat is None or nat.state == "deleted":
            return delete(self, nat_gateway_id)
        tags = tags_of(nat)

        def remove():
            _set("nat", nat, "deleted")

        if start_delete("nat", nat, _names(nat.id, tags.get("Name"), tags=tags), remove):
            return nat
        return delete(self, nat_gateway_id)

    NatGatewayBackend.create_nat_gateway, NatGatewayBackend.delete_nat_gateway = timed_create, timed_delete


def install(forget_cluster):
    """Hooks the clocks into moto; `forget_cluster(account, region, name)` drops what
    moto-ekskit.py keeps for a cluster once it is really gone."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__

    def dispatch(self, environ, start_response):
        path = environ.get("PATH_INFO", "").rstrip("/")
        if path == PATH:
            return _control(environ, start_response)
        if path in CONTROLS:
            return CONTROLS[path](environ, start_response)
        advance()
        return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = dispatch
    _install_eks(forget_cluster)
    _install_ec2()
