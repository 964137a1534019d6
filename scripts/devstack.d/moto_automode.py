"""moto_automode: EKS Auto Mode on the emulator, with the rules EKS enforces at CreateCluster.

- computeConfig, storageConfig.blockStorage and kubernetesNetworkConfig.elasticLoadBalancing are
  kept and described; EKS refuses them unless all three are on or all off, refuses node pools
  other than its built-in `general-purpose` and `system`, node pools without a nodeRoleArn, and
  Auto Mode with the CONFIG_MAP authentication mode.
- A cluster created in Auto Mode gets, as on EKS, an access entry of type EC2 for the node role
  with AmazonEKSAutoNodePolicy associated.
- AssociateAccessPolicy, ListAssociatedAccessPolicies and DisassociateAccessPolicy on the access
  entries moto-ekskit.py keeps.

Shapes as the SDK's model has them (ComputeConfigResponse, StorageConfigResponse,
AssociatedAccessPolicy).
"""

import datetime
import urllib.parse

from moto.core.responses import ActionResult
from moto.eks.exceptions import InvalidParameterException, ResourceNotFoundException

NODE_POOLS = {"general-purpose", "system"}
NODE_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy"

# Set by install(): moto-ekskit.py's access entries and cluster lookup.
_ENTRIES = None
_CLUSTER = None


def _enabled(part):
    return bool((part or {}).get("enabled"))


def _check(self):
    compute = self._get_param("computeConfig") or {}
    storage = (self._get_param("storageConfig") or {}).get("blockStorage") or {}
    balancing = (self._get_param("kubernetesNetworkConfig") or {}).get("elasticLoadBalancing") or {}
    parts = {_enabled(compute), _enabled(storage), _enabled(balancing)}
    if len(parts) > 1:
        raise InvalidParameterException(
            message="For EKS Auto Mode, computeConfig.enabled, kubernetesNetworkConfig.elasticLoadBalancing.enabled and "
            "storageConfig.blockStorage.enabled must all be true or all be false")
    pools = compute.get("nodePools") or []
    unknown = sorted(set(pools) - NODE_POOLS)
    if unknown:
        raise InvalidParameterException(message=f"Unknown node pools {unknown}: the built-in node pools are {sorted(NODE_POOLS)}")
    if pools and not compute.get("nodeRoleArn"):
        raise InvalidParameterException(message="computeConfig.nodeRoleArn is required when nodePools are given")
    mode = (self._get_param("accessConfig") or {}).get("authenticationMode") or "API_AND_CONFIG_MAP"
    if _enabled(compute) and mode == "CONFIG_MAP":
        raise InvalidParameterException(message="EKS Auto Mode needs the authentication mode API or API_AND_CONFIG_MAP")
    return compute, storage, balancing


def _create_cluster(original):
    def create_cluster(self):
        compute, storage, balancing = _check(self)
        result = original(self)
        name = self._get_param("name")
        cluster = self.eks_backend.clusters[name]
        on = _enabled(compute)
        cluster.compute_config = {"enabled": on, "nodePools": compute.get("nodePools") or [],
                                  "nodeRoleArn": compute.get("nodeRoleArn")} if on else {"enabled": False}
        cluster.storage_config = {"blockStorage": {"enabled": _enabled(storage)}}
        network = dict(cluster.kubernetes_network_config or {})
        network["elasticLoadBalancing"] = {"enabled": _enabled(balancing)}
        cluster.kubernetes_network_config = network
        if on and compute.get("nodeRoleArn"):
            _node_entry(self, name, compute["nodeRoleArn"])
        return result
    return create_cluster


def _now():
    return datetime.datetime.now(datetime.UTC)


def _node_entry(self, cluster, role):
    key = (self.current_account, self.region, cluster)
    _ENTRIES.setdefault(key, {})[role] = {
        "clusterName": cluster, "principalArn": role, "kubernetesGroups": [], "type": "EC2",
        "accessEntryArn": f"arn:aws:eks:{self.region}:{self.current_account}:access-entry/{cluster}/role/auto-node",
        "createdAt": _now(), "modifiedAt": _now(), "tags": {}, "username": "system:node:{{EC2PrivateDNSName}}",
        "policies": {NODE_POLICY: {"type": "cluster"}},
    }


def _entry(self):
    cluster, key = _CLUSTER(self)
    # .../access-entries/<principal, percent-encoded>[/access-policies[/<policy, percent-encoded>]]
    rest = self.path.split("/access-entries/", 1)[1].split("?", 1)[0].split("/")
    entry = _ENTRIES.get(key, {}).get(urllib.parse.unquote(rest[0]))
    if entry is None:
        raise ResourceNotFoundException(clusterName=cluster, message="The specified principalArn could not be found.")
    policy = urllib.parse.unquote(rest[2]) if len(rest) > 2 else None
    return cluster, entry, policy


def _associated(entry, arn):
    scope = entry["policies"][arn]
    return {"policyArn": arn, "accessScope": scope, "associatedAt": _now(), "modifiedAt": _now()}


def associate_access_policy(self):
    cluster, entry, _ = _entry(self)
    arn = self._get_param("policyArn")
    entry.setdefault("policies", {})[arn] = self._get_param("accessScope") or {"type": "cluster"}
    return ActionResult({"clusterName": cluster, "principalArn": entry["principalArn"],
                         "associatedAccessPolicy": _associated(entry, arn)})


def list_associated_access_policies(self):
    cluster, entry, _ = _entry(self)
    policies = [_associated(entry, arn) for arn in sorted(entry.get("policies", {}))]
    return ActionResult({"clusterName": cluster, "principalArn": entry["principalArn"],
                         "associatedAccessPolicies": policies})


def disassociate_access_policy(self):
    cluster, entry, policy = _entry(self)
    if entry.get("policies", {}).pop(policy, None) is None:
        raise ResourceNotFoundException(clusterName=cluster, message=f"The access policy {policy} is not associated")
    return ActionResult({})


def install(response_class, entries, cluster_lookup):
    global _ENTRIES, _CLUSTER
    _ENTRIES, _CLUSTER = entries, cluster_lookup
    response_class.create_cluster = _create_cluster(response_class.create_cluster)
    for fn in (associate_access_policy, list_associated_access_policies, disassociate_access_policy):
        setattr(response_class, fn.__name__, fn)
