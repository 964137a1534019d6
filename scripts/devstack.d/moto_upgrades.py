"""moto_upgrades: EKS version upgrades on the emulator, with the rules EKS enforces.

- UpdateClusterVersion: one minor at a time, to a version EKS offers, only while the cluster is
  ACTIVE and its node groups run its version; the cluster is UPDATING until the update is done.
- UpdateNodegroupVersion: to the cluster's version (not newer), only while the node group is
  ACTIVE; UPDATING until done, then the new version and its AMI release.
- Add-on updates (moto-ekskit.py's UpdateAddon) are recorded here and take time the same way.
- CreateNodegroup without a version gives the node group its cluster's, as EKS does.
- Deletion protection: CreateCluster keeps `deletionProtection`, UpdateClusterConfig changes it
  (a DeletionProtectionUpdate), DeleteCluster refuses a protected cluster.
- DescribeUpdate and ListUpdates for all three (`nodegroupName`, `addonName` select the scope).
- ListInsights and DescribeInsight, category UPGRADE_READINESS, for the next minor: "Kubelet
  version skew" (WARNING while a node group lags the control plane) and "Deprecated APIs removed
  in Kubernetes v1.N" (PASSING), plus findings a test adds over HTTP:

    POST   /_ekskit/insights   {"cluster": "demo", "kubernetesVersion": "1.36", "name": "...",
                                "status": "ERROR", "reason": "...", "description": "..."}
    DELETE /_ekskit/insights?cluster=demo

An update takes AWS's time, scaled, when a moto_timed rule matches its cluster (control plane
8 min, node group 10 min, add-on 1 min; at the default scale 8, 10 and 1 s); else it is done at
once, as moto's own resources are. Each answers as the SDK's model says (UpdateClusterVersion:
`update` with type VersionUpdate and params Version and PlatformVersion, and so on).
"""

import datetime
import json
import urllib.parse
import uuid

from moto.core.responses import ActionResult
from moto.eks.exceptions import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
)

import moto_timed

PATH = "/_ekskit/insights"
UPDATES = {}  # (account, region, cluster) -> {update id: (scope, update)}; scope: None, ("nodegroup", n), ("addon", n)
FINDINGS = {}  # cluster name -> [finding] added over HTTP
CATEGORY = "UPGRADE_READINESS"

# Set by install(): moto-ekskit.py's cluster lookup and the versions EKS offers.
_CLUSTER = None
_OFFERED = ()


def _now():
    return datetime.datetime.now(datetime.UTC)


def minor(version):
    try:
        major, minor_ = str(version).split(".")[:2]
        return int(major), int(minor_)
    except ValueError:
        return (0, 0)


def _key(self, cluster):
    return (self.current_account, self.region, cluster)


def record(self, cluster, scope, kind, params, update_type="VersionUpdate"):
    """A new update of `scope` (None: the cluster) in progress; returns it."""
    update = {"id": str(uuid.uuid4()), "status": "InProgress", "type": update_type, "params": params,
              "createdAt": _now(), "errors": []}
    UPDATES.setdefault(_key(self, cluster), {})[update["id"]] = (scope, update)
    return update


def take_time(kind, resource, names, update, finish):
    """Runs `finish()` and marks `update` Successful, at once or, when a timing rule matches,
    once the update's time is up (the resource UPDATING meanwhile)."""
    def done():
        finish()
        update["status"] = "Successful"

    if not moto_timed.start_update(kind, resource, names, done):
        done()


def update_cluster_version(self):
    name, _ = _CLUSTER(self)
    cluster = self.eks_backend.clusters[name]
    version = self._get_param("version")
    if cluster.status != "ACTIVE":
        raise ResourceInUseException(clusterName=name, nodegroupName=None, addonName=None,
                                     message=f"Cluster {name} is {cluster.status}: an update is already in progress")
    have = minor(cluster.version)
    if version not in _OFFERED or minor(version) != (have[0], have[1] + 1):
        raise InvalidParameterException(
            message=f"Unsupported Kubernetes minor version update from {cluster.version} to {version}")
    behind = sorted(n for n, ng in cluster.nodegroups.items() if ng.version != cluster.version)
    if behind:
        raise InvalidRequestException(
            message=f"Nodegroups {', '.join(behind)} must be updated to match cluster version "
                    f"{cluster.version} before updating cluster version")
    update = record(self, name, None, "cluster",
                    [{"type": "Version", "value": version}, {"type": "PlatformVersion", "value": "eks.1"}])

    def finish():
        cluster.version, cluster.platform_version, cluster.status = version, "eks.1", "ACTIVE"

    take_time("cluster", cluster, moto_timed._names(name, tags=cluster.tags), update, finish)
    return ActionResult({"update": update})


def update_nodegroup_version(self):
    name, _ = _CLUSTER(self)
    cluster = self.eks_backend.clusters[name]
    ng_name = self._get_param("nodegroupName")
    ng = cluster.nodegroups.get(ng_name)
    if ng is None:
        raise ResourceNotFoundException(clusterName=name, nodegroupName=ng_name, fargateProfileName=None,
                                        addonName=None, message=f"No node group found for name: {ng_name}.")
    version = self._get_param("version") or cluster.version
    if ng.status != "ACTIVE":
        raise ResourceInUseException(clusterName=name, nodegroupName=ng_name, addonName=None,
                                     message=f"Nodegroup {ng_name} is {ng.status}: an update is already in progress")
    if minor(version) > minor(cluster.version):
        raise InvalidParameterException(
            message=f"Requested Nodegroup version {version} is newer than the cluster version {cluster.version}")
    release = self._get_param("releaseVersion") or f"{version}.0-20261120"
    force = bool(self._get_param("force"))
    update = record(self, name, ("nodegroup", ng_name), "nodegroup", [
        {"type": "Version", "value": version}, {"type": "ReleaseVersion", "value": release},
        {"type": "Force", "value": str(force).lower()}])

    def finish():
        ng.version, ng.release_version, ng.status = version, release, "ACTIVE"

    take_time("nodegroup", ng, moto_timed._names(ng_name, name, tags=ng.tags), update, finish)
    return ActionResult({"update": update})


def _create_cluster(original):
    """CreateCluster keeps deletionProtection, which moto drops (its serializer reads the attribute)."""
    def create_cluster(self):
        result = original(self)
        cluster = self.eks_backend.clusters[self._get_param("name")]
        cluster.deletion_protection = bool(self._get_param("deletionProtection"))
        return result
    return create_cluster


def _create_nodegroup(original):
    """A node group made without a version runs its cluster's, as on EKS (moto gives its own
    default)."""
    def create_nodegroup(self):
        result = original(self)
        if not self._get_param("version"):
            cluster = self.eks_backend.clusters[self._get_param("name")]
            ng = cluster.nodegroups[self._get_param("nodegroupName")]
            ng.version, ng.release_version = cluster.version, f"{cluster.version}.0-20261120"
        return result
    return create_nodegroup


def _update_cluster_config(original):
    """UpdateClusterConfig with deletionProtection: a DeletionProtectionUpdate, as on EKS; the
    rest is moto's."""
    def update_cluster_config(self):
        wanted = self._get_param("deletionProtection")
        if wanted is None:
            return original(self)
        name, _ = _CLUSTER(self)
        cluster = self.eks_backend.clusters[name]
        if cluster.status != "ACTIVE":
            raise ResourceInUseException(clusterName=name, nodegroupName=None, addonName=None,
                                         message=f"Cluster {name} is {cluster.status}: an update is already in progress")
        update = record(self, name, None, "cluster", [{"type": "DeletionProtection", "value": str(wanted).lower()}],
                        "DeletionProtectionUpdate")
        cluster.deletion_protection = bool(wanted)
        update["status"] = "Successful"
        return ActionResult({"update": update})
    return update_cluster_config


def _delete_cluster(original):
    """DeleteCluster refuses a cluster with deletion protection on, as EKS does."""
    def delete_cluster(self):
        name = self._get_param("name")
        cluster = self.eks_backend.clusters.get(name)
        if cluster is not None and getattr(cluster, "deletion_protection", False):
            raise InvalidRequestException(
                message=f"Cluster {name} has deletion protection enabled; disable it with UpdateClusterConfig first")
        return original(self)
    return delete_cluster


def _scope(self):
    nodegroup, addon = self._get_param("nodegroupName"), self._get_param("addonName")
    return ("nodegroup", nodegroup) if nodegroup else ("addon", addon) if addon else None


def describe_update(self):
    name, _ = _CLUSTER(self)
    update_id = self._get_param("updateId")
    found = UPDATES.get(_key(self, name), {}).get(update_id)
    if found is None or found[0] != _scope(self):
        raise ResourceNotFoundException(clusterName=name, nodegroupName=None, fargateProfileName=None,
                                        addonName=None, message=f"No update found for ID: {update_id}")
    return ActionResult({"update": found[1]})


def list_updates(self):
    name, _ = _CLUSTER(self)
    scope = _scope(self)
    ids = [i for i, (s, _) in UPDATES.get(_key(self, name), {}).items() if s == scope]
    return ActionResult({"updateIds": ids})


def _insights(cluster):
    """The cluster's upgrade insights for its next minor."""
    have = minor(cluster.version)
    target = f"{have[0]}.{have[1] + 1}"
    behind = sorted(n for n, ng in cluster.nodegroups.items() if ng.version != cluster.version)
    found = [
        ("Kubelet version skew",
         ("Checks for kubelet versions of worker nodes in the cluster to see if an upgrade would cause "
          "noncompliance with supported Kubernetes kubelet version skew policy."),
         "WARNING" if behind else "PASSING",
         f"Node groups {', '.join(behind)} run an older kubelet than the control plane" if behind
         else "No issues found"),
        (f"Deprecated APIs removed in Kubernetes v{target}",
         f"Checks for usage of deprecated APIs that are scheduled for removal in Kubernetes v{target}.",
         "PASSING", "No deprecated API usage detected within the last 30 days."),
    ]
    found += [(f["name"], f.get("description", f["name"]), f["status"], f.get("reason", ""))
              for f in FINDINGS.get(cluster.name, []) if f.get("kubernetesVersion", target) == target]
    now = _now()
    return [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cluster.name}/{target}/{n}")), "name": n,
             "category": CATEGORY, "kubernetesVersion": target, "lastRefreshTime": now, "lastTransitionTime": now,
             "description": d, "insightStatus": {"status": s, "reason": r}} for n, d, s, r in found]


def list_insights(self):
    name, _ = _CLUSTER(self)
    wanted = self._get_param("filter") or {}
    found = [
        i for i in _insights(self.eks_backend.clusters[name])
        if i["category"] in (wanted.get("categories") or [CATEGORY])
        and (not wanted.get("kubernetesVersions") or i["kubernetesVersion"] in wanted["kubernetesVersions"])
        and (not wanted.get("statuses") or i["insightStatus"]["status"] in wanted["statuses"])
    ]
    return ActionResult({"insights": found})


def describe_insight(self):
    name, _ = _CLUSTER(self)
    insight_id = self._get_param("id")
    for insight in _insights(self.eks_backend.clusters[name]):
        if insight["id"] == insight_id:
            return ActionResult({"insight": dict(insight, recommendation="", additionalInfo={}, resources=[],
                                                 categorySpecificSummary={})})
    raise ResourceNotFoundException(clusterName=name, nodegroupName=None, fargateProfileName=None, addonName=None,
                                    message=f"No insight found for ID: {insight_id}")


def _control(environ, start_response):
    """The WSGI app of /_ekskit/insights."""
    method = environ.get("REQUEST_METHOD", "GET")
    status, payload = "200 OK", {}
    try:
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            finding = json.loads(environ["wsgi.input"].read(length) if length else b"{}")
            missing = {"cluster", "name", "status"} - set(finding)
            if missing or finding["status"] not in ("PASSING", "WARNING", "ERROR", "UNKNOWN"):
                raise ValueError("a finding has cluster, name and status (PASSING, WARNING, ERROR or UNKNOWN)")
            FINDINGS.setdefault(finding["cluster"], []).append(finding)
            payload = finding
        elif method == "DELETE":
            cluster = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("cluster", [None])[0]
            payload = {"dropped": FINDINGS.pop(cluster, [])}
        else:
            payload = FINDINGS
    except ValueError as e:
        status, payload = "400 Bad Request", {"message": str(e)}
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def install(cluster_lookup, offered):
    """`cluster_lookup(self)` → (name, key) or ResourceNotFoundException; `offered`: the versions
    EKS offers."""
    global _CLUSTER, _OFFERED
    _CLUSTER, _OFFERED = cluster_lookup, tuple(offered)
    from moto.eks import urls
    from moto.eks.responses import EKSResponse

    prefix = "{0}/clusters/(?P<name>[^/]+)"
    urls.url_paths.update({
        prefix + "/updates$": urls.response.dispatch,
        prefix + "/updates/(?P<updateId>[^/]+)$": urls.response.dispatch,
        prefix + "/node-groups/(?P<nodegroupName>[^/]+)/update-version$": urls.response.dispatch,
        prefix + "/insights$": urls.response.dispatch,
        prefix + "/insights/(?P<id>[^/]+)$": urls.response.dispatch,
    })
    for fn in (update_cluster_version, update_nodegroup_version, describe_update, list_updates, list_insights,
               describe_insight):
        setattr(EKSResponse, fn.__name__, fn)
    EKSResponse.create_cluster = _create_cluster(EKSResponse.create_cluster)
    EKSResponse.create_nodegroup = _create_nodegroup(EKSResponse.create_nodegroup)
    EKSResponse.update_cluster_config = _update_cluster_config(EKSResponse.update_cluster_config)
    EKSResponse.delete_cluster = _delete_cluster(EKSResponse.delete_cluster)
    moto_timed.CONTROLS[PATH] = _control
