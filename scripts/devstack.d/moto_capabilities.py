"""moto_capabilities: EKS Capabilities (managed Argo CD, ACK, kro) on the emulator.

- CreateCapability: on an ACTIVE cluster, a name not in use (ResourceInUseException), a type
  EKS has (ACK, ARGOCD, KRO), a role, deletePropagationPolicy RETAIN (the only one EKS takes),
  and for ARGOCD the Identity Center instance (configuration.argoCd.awsIdc.idcInstanceArn). The
  answer carries the Argo CD server URL and the managed Identity Center application EKS makes,
  and EKS' access entry for the capability role (type STANDARD, no policy) on the cluster.
- DescribeCapability, ListCapabilities, DeleteCapability (its access entry goes with it).
- A capability takes AWS's time under a moto_timed rule (kind `capability`: CREATING, then ACTIVE
  or CREATE_FAILED/DEGRADED with `health.issues`; DELETING, then gone), else it is ready at once.
- DeleteCluster refuses a cluster that still has capabilities.

Shapes as the SDK's model has them (Capability, CapabilitySummary, ArgoCdConfigResponse).
"""

import datetime
import uuid

from moto.core.responses import ActionResult
from moto.eks.exceptions import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
)

import moto_timed

TYPES = {"ACK", "ARGOCD", "KRO"}
CAPABILITIES = {}  # (account, region, cluster) -> {name: capability}

# Set by install(): moto-ekskit.py's cluster lookup and access entries.
_CLUSTER = None
_ENTRIES = None


def _now():
    return datetime.datetime.now(datetime.UTC)


def _key(self, cluster):
    return (self.current_account, self.region, cluster)


def _argocd(self, configuration, name):
    argocd = (configuration or {}).get("argoCd") or {}
    idc = argocd.get("awsIdc") or {}
    if not idc.get("idcInstanceArn"):
        raise InvalidParameterException(message="configuration.argoCd.awsIdc.idcInstanceArn is required for an ARGOCD capability")
    region = idc.get("idcRegion") or self.region
    host = f"{uuid.uuid4().hex[:12]}.eks-capabilities.{self.region}.amazonaws.com"
    return {"argoCd": {
        "namespace": argocd.get("namespace") or "argocd",
        "awsIdc": {"idcInstanceArn": idc["idcInstanceArn"], "idcRegion": region,
                   "idcManagedApplicationArn": f"arn:aws:sso::{self.current_account}:application/{idc['idcInstanceArn'].rsplit('/', 1)[-1]}/apl-{uuid.uuid4().hex[:16]}"},
        "rbacRoleMappings": argocd.get("rbacRoleMappings") or [],
        "networkAccess": {"vpceIds": (argocd.get("networkAccess") or {}).get("vpceIds") or []},
        "serverUrl": f"https://{host}",
    }}


def create_capability(self):
    cluster, key = _CLUSTER(self)
    if self.eks_backend.clusters[cluster].status != "ACTIVE":
        raise InvalidRequestException(message=f"Cluster {cluster} is not ACTIVE")
    name = self._get_param("capabilityName")
    kind = self._get_param("type")
    role = self._get_param("roleArn")
    if kind not in TYPES:
        raise InvalidParameterException(message=f"type must be one of {sorted(TYPES)}")
    if not role:
        raise InvalidParameterException(message="roleArn is required")
    if self._get_param("deletePropagationPolicy") != "RETAIN":
        raise InvalidParameterException(message="deletePropagationPolicy must be RETAIN")
    found = CAPABILITIES.setdefault(key, {})
    if name in found:
        raise ResourceInUseException(clusterName=cluster, message=f"Capability {name} already exists in cluster {cluster}")
    capability = {
        "capabilityName": name, "clusterName": cluster, "type": kind, "roleArn": role, "status": "ACTIVE",
        "arn": f"arn:aws:eks:{self.region}:{self.current_account}:capability/{cluster}/{name}/{uuid.uuid4()}",
        "version": {"ARGOCD": "v3.1.9-eks-1", "ACK": "v1.0.0-eks-1", "KRO": "v0.4.0-eks-1"}[kind],
        "configuration": _argocd(self, self._get_param("configuration"), name) if kind == "ARGOCD" else {},
        "tags": self._get_param("tags") or {}, "health": {"issues": []},
        "createdAt": _now(), "modifiedAt": _now(), "deletePropagationPolicy": "RETAIN",
    }
    found[name] = capability
    moto_timed.start_create("capability", capability, moto_timed._names(name, cluster, tags=capability["tags"]))
    entries = _ENTRIES.setdefault(key, {})
    entries.setdefault(role, {
        "clusterName": cluster, "principalArn": role, "kubernetesGroups": [], "type": "STANDARD",
        "accessEntryArn": f"arn:aws:eks:{self.region}:{self.current_account}:access-entry/{cluster}/role/{uuid.uuid4()}",
        "createdAt": _now(), "modifiedAt": _now(), "tags": {}, "username": role, "capability": name,
    })
    return ActionResult({"capability": capability})


def _capability(self):
    cluster, key = _CLUSTER(self)
    name = self.path.split("/capabilities/", 1)[1].split("?", 1)[0].split("/", 1)[0]
    capability = CAPABILITIES.get(key, {}).get(name)
    if capability is None:
        raise ResourceNotFoundException(clusterName=cluster, message=f"No capability found for name: {name}.")
    return key, capability


def describe_capability(self):
    return ActionResult({"capability": _capability(self)[1]})


def list_capabilities(self):
    _, key = _CLUSTER(self)
    fields = ("capabilityName", "arn", "type", "status", "version", "createdAt", "modifiedAt")
    summaries = [{f: c[f] for f in fields} for _, c in sorted(CAPABILITIES.get(key, {}).items())]
    return ActionResult({"capabilities": summaries})


def delete_capability(self):
    key, capability = _capability(self)

    def remove():
        CAPABILITIES.get(key, {}).pop(capability["capabilityName"], None)
        entries = _ENTRIES.get(key, {})
        if entries.get(capability["roleArn"], {}).get("capability") == capability["capabilityName"]:
            entries.pop(capability["roleArn"], None)

    names = moto_timed._names(capability["capabilityName"], capability["clusterName"], tags=capability["tags"])
    if not moto_timed.start_delete("capability", capability, names, remove):
        remove()
    return ActionResult({"capability": capability})


def _delete_cluster(original):
    def delete_cluster(self):
        name = self._get_param("name")
        if CAPABILITIES.get(_key(self, name)):
            raise ResourceInUseException(clusterName=name, message=f"Cluster {name} has capabilities: delete them first")
        return original(self)
    return delete_cluster


def forget(key):
    CAPABILITIES.pop(key, None)


def install(response_class, urls, cluster_lookup, entries):
    global _CLUSTER, _ENTRIES
    _CLUSTER, _ENTRIES = cluster_lookup, entries
    prefix = "{0}/clusters/(?P<name>[^/]+)"
    urls.url_paths.update({
        prefix + "/capabilities$": urls.response.dispatch,
        prefix + "/capabilities/(?P<capabilityName>[^/]+)$": urls.response.dispatch,
    })
    for fn in (create_capability, describe_capability, list_capabilities, delete_capability):
        setattr(response_class, fn.__name__, fn)
    response_class.delete_cluster = _delete_cluster(response_class.delete_cluster)
