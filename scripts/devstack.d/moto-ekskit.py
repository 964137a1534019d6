"""moto-ekskit: moto's server with the EKS operations moto 5.2.5 does not model yet, so mkeks
runs against the emulator end to end: add-ons (Create/Describe/List/Update/DeleteAddon,
DescribeAddonVersions), DescribeClusterVersions, Pod Identity associations (Create/Describe/List/Update/Delete
PodIdentityAssociation) and access entries (Create/Describe/List/DeleteAccessEntry).
They keep state per account and region like moto's own models, become ACTIVE at once (as moto's
clusters do) and answer unknown clusters and add-ons with ResourceNotFoundException.

Clusters, node groups, add-ons and NAT gateways that match a timing rule (POST /_ekskit/timing)
take time instead: they pass through CREATING/DELETING (NAT: pending/deleting) for durations
scaled from AWS's, and end ACTIVE, gone, or in their real failed state with AWS's reason when the
rule asks for a failure; moto_timed.py has the rules and the states.

usage: moto-ekskit.py [moto_server arguments]
"""

import datetime
import sys
import urllib.parse
import uuid

from moto.core.responses import ActionResult
from moto.eks import urls
from moto.eks.exceptions import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from moto.eks.responses import EKSResponse

import moto_codeconnections  # CodeConnections and CodeBuild pieces for mkpipeline
import moto_ec2  # repeated EC2 calls answered as AWS does (NAT ClientToken, endpoint deletes)
import moto_timed  # AWS that takes time: timing rules, states and failures

# Versions the emulator offers; the newest is the default, as on EKS.
ADDON_VERSIONS = {
    "vpc-cni": ["v1.20.4-eksbuild.2", "v1.21.1-eksbuild.1"],
    "coredns": ["v1.12.4-eksbuild.1", "v1.13.1-eksbuild.1"],
    "kube-proxy": ["v1.35.0-eksbuild.2"],
    "eks-pod-identity-agent": ["v1.3.10-eksbuild.1"],
    "aws-ebs-csi-driver": ["v1.51.0-eksbuild.1"],
}

ADDONS = {}  # (account, region, cluster) -> {name: addon}
ASSOCIATIONS = {}  # (account, region, cluster) -> {id: association}
ACCESS_ENTRIES = {}  # (account, region, cluster) -> {principal arn: entry}


def _now():
    return datetime.datetime.now(datetime.UTC)


def _cluster(self):
    name = self._get_param("name") or self._get_param("clusterName")
    if name not in self.eks_backend.clusters:
        raise ResourceNotFoundException(clusterName=name, message=f"No cluster found for name: {name}.")
    return name, (self.current_account, self.region, name)


def create_addon(self):
    cluster, key = _cluster(self)
    if not self.eks_backend.clusters[cluster].is_active:
        raise InvalidRequestException(message=f"Cluster '{cluster}' is not in ACTIVE status")
    name = self._get_param("addonName")
    if name not in ADDON_VERSIONS:
        raise InvalidParameterException(message=f"Addon {name} specified is not supported")
    addons = ADDONS.setdefault(key, {})
    if name in addons:
        raise ResourceInUseException(addonName=name, clusterName=cluster, message=f"Addon already exists: {name}")
    version = self._get_param("addonVersion") or ADDON_VERSIONS[name][-1]
    arn = f"arn:aws:eks:{self.region}:{self.current_account}:addon/{cluster}/{name}/{uuid.uuid4()}"
    addon = {
        "addonName": name, "clusterName": cluster, "status": "ACTIVE", "addonVersion": version,
        "health": {"issues": []}, "addonArn": arn, "createdAt": _now(), "modifiedAt": _now(),
        "tags": self._get_param("tags") or {},
        "podIdentityAssociations": [],
    }
    if self._get_param("serviceAccountRoleArn"):
        addon["serviceAccountRoleArn"] = self._get_param("serviceAccountRoleArn")
    if self._get_param("configurationValues"):
        addon["configurationValues"] = self._get_param("configurationValues")
    for pia in self._get_param("podIdentityAssociations") or []:
        association = _associate(self, key, cluster, pia["serviceAccount"], "kube-system", pia["roleArn"])
        addon["podIdentityAssociations"].append(association["associationArn"])
    addons[name] = addon
    moto_timed.start_create("addon", addon, [name, cluster, addon["tags"].get(moto_timed.STACK_TAG, "")])
    return ActionResult({"addon": addon})


def _addon(self):
    cluster, key = _cluster(self)
    name = self._get_param("addonName")
    addon = ADDONS.get(key, {}).get(name)
    if addon is None:
        raise ResourceNotFoundException(addonName=name, clusterName=cluster, message=f"No addon: {name} found in cluster: {cluster}")
    return key, addon


def describe_addon(self):
    return ActionResult({"addon": _addon(self)[1]})


def update_addon(self):
    _, addon = _addon(self)
    if self._get_param("addonVersion"):
        addon["addonVersion"] = self._get_param("addonVersion")
    if self._get_param("configurationValues") is not None:
        addon["configurationValues"] = self._get_param("configurationValues")
    addon["modifiedAt"] = _now()
    update = {"id": str(uuid.uuid4()), "status": "Successful", "type": "AddonUpdate", "createdAt": _now(), "errors": []}
    return ActionResult({"update": update})


def delete_addon(self):
    key, addon = _addon(self)

    def remove():
        if ADDONS.get(key, {}).get(addon["addonName"]) is addon:
            del ADDONS[key][addon["addonName"]]
        for arn in addon["podIdentityAssociations"]:
            ASSOCIATIONS.get(key, {}).pop(arn.rsplit("/", 1)[-1], None)

    names = [addon["addonName"], addon["clusterName"], addon["tags"].get(moto_timed.STACK_TAG, "")]
    if not moto_timed.start_delete("addon", addon, names, remove):
        remove()
    return ActionResult({"addon": dict(addon, status="DELETING")})


def list_addons(self):
    _, key = _cluster(self)
    return ActionResult({"addons": sorted(ADDONS.get(key, {}))})


def describe_addon_versions(self):
    wanted = self._get_param("addonName")
    found = [
        {"addonName": name, "type": "networking", "addonVersions": [
            {"addonVersion": v, "compatibilities": [{"clusterVersion": self._get_param("kubernetesVersion") or "1.35",
                                                    "defaultVersion": v == versions[-1]}]} for v in versions]}
        for name, versions in ADDON_VERSIONS.items() if wanted in (None, name)
    ]
    return ActionResult({"addons": found})


def _associate(self, key, cluster, service_account, namespace, role_arn):
    association_id = "a-" + uuid.uuid4().hex[:17]
    for existing in ASSOCIATIONS.get(key, {}).values():
        if (existing["namespace"], existing["serviceAccount"]) == (namespace, service_account):
            raise ResourceInUseException(clusterName=cluster, message="Association already exists")
    association = {
        "clusterName": cluster, "namespace": namespace, "serviceAccount": service_account, "roleArn": role_arn,
        "associationId": association_id, "createdAt": _now(), "modifiedAt": _now(),
        "associationArn": f"arn:aws:eks:{self.region}:{self.current_account}:podidentityassociation/{cluster}/{association_id}",
    }
    ASSOCIATIONS.setdefault(key, {})[association_id] = association
    return association


def create_pod_identity_association(self):
    cluster, key = _cluster(self)
    association = _associate(self, key, cluster, self._get_param("serviceAccount"), self._get_param("namespace"),
                             self._get_param("roleArn"))
    return ActionResult({"association": association})


def list_pod_identity_associations(self):
    _, key = _cluster(self)
    namespace, service_account = self._get_param("namespace"), self._get_param("serviceAccount")
    summaries = [{k: a[k] for k in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId")}
                 for a in ASSOCIATIONS.get(key, {}).values()
                 if namespace in (None, a["namespace"]) and service_account in (None, a["serviceAccount"])]
    return ActionResult({"associations": summaries})


def _association(self):
    cluster, key = _cluster(self)
    association = ASSOCIATIONS.get(key, {}).get(self._get_param("associationId"))
    if association is None:
        raise ResourceNotFoundException(clusterName=cluster, message="No association found")
    return association


def describe_pod_identity_association(self):
    return ActionResult({"association": _association(self)})


def update_pod_identity_association(self):
    association = _association(self)
    if self._get_param("roleArn"):
        association["roleArn"] = self._get_param("roleArn")
    association["modifiedAt"] = _now()
    return ActionResult({"association": association})


def _principal(self):
    # The principal ARN is the last part of the path, percent-encoded by the SDK.
    return urllib.parse.unquote(self.path.split("/access-entries/", 1)[1].split("?", 1)[0])


def create_access_entry(self):
    cluster, key = _cluster(self)
    principal = self._get_param("principalArn")
    entries = ACCESS_ENTRIES.setdefault(key, {})
    if principal in entries:
        raise ResourceInUseException(clusterName=cluster, message="The specified access entry resource is already in use on this cluster.")
    entry = {
        "clusterName": cluster, "principalArn": principal, "kubernetesGroups": self._get_param("kubernetesGroups") or [],
        "accessEntryArn": f"arn:aws:eks:{self.region}:{self.current_account}:access-entry/{cluster}/{uuid.uuid4()}",
        "createdAt": _now(), "modifiedAt": _now(), "tags": self._get_param("tags") or {},
        "username": self._get_param("username") or principal, "type": self._get_param("type") or "STANDARD",
    }
    entries[principal] = entry
    return ActionResult({"accessEntry": entry})


def _access_entry(self):
    cluster, key = _cluster(self)
    entry = ACCESS_ENTRIES.get(key, {}).get(_principal(self))
    if entry is None:
        raise ResourceNotFoundException(clusterName=cluster, message="The specified principalArn could not be found.")
    return key, entry


def describe_access_entry(self):
    return ActionResult({"accessEntry": _access_entry(self)[1]})


def delete_access_entry(self):
    key, entry = _access_entry(self)
    del ACCESS_ENTRIES[key][entry["principalArn"]]
    return ActionResult({})


def list_access_entries(self):
    _, key = _cluster(self)
    return ActionResult({"accessEntries": sorted(ACCESS_ENTRIES.get(key, {}))})


def delete_pod_identity_association(self):
    cluster, key = _cluster(self)
    association = ASSOCIATIONS.get(key, {}).pop(self._get_param("associationId"), None)
    if association is None:
        raise ResourceNotFoundException(clusterName=cluster, message="No association found")
    return ActionResult({"association": association})


# DescribeClusterVersions as EKS answered on 2026-12-03 (1.34 left standard support on
# 2026-12-02); without includeAll, versions past extended support are not listed.
CLUSTER_VERSIONS = [
    ("1.36", "STANDARD_SUPPORT", "2026-06-02", "2027-08-02", "2028-08-02", False),
    ("1.35", "STANDARD_SUPPORT", "2026-01-27", "2027-03-27", "2028-03-27", True),
    ("1.34", "EXTENDED_SUPPORT", "2025-10-02", "2026-12-02", "2027-12-02", False),
    ("1.33", "EXTENDED_SUPPORT", "2025-05-29", "2026-07-29", "2027-07-29", False),
    ("1.32", "EXTENDED_SUPPORT", "2025-01-23", "2026-03-23", "2027-03-23", False),
    ("1.31", "UNSUPPORTED", "2024-09-26", "2025-11-26", "2026-11-26", False),
]


def describe_cluster_versions(self):
    wanted = self.querystring.get("clusterVersions") or []
    include_all = (self._get_param("includeAll") or "false").lower() == "true"
    default_only = (self._get_param("defaultOnly") or "false").lower() == "true"
    day = lambda d: datetime.datetime.fromisoformat(d).replace(tzinfo=datetime.UTC)
    found = [
        {"clusterVersion": v, "clusterType": "eks", "defaultPlatformVersion": "eks.1", "defaultVersion": default,
         "releaseDate": day(released), "endOfStandardSupportDate": day(standard),
         "endOfExtendedSupportDate": day(extended), "status": status, "versionStatus": status,
         "kubernetesPatchVersion": f"{v}.0"}
        for v, status, released, standard, extended, default in CLUSTER_VERSIONS
        if (include_all or status != "UNSUPPORTED") and (not wanted or v in wanted) and (default or not default_only)
    ]
    return ActionResult({"clusterVersions": found})


_original_delete_cluster = EKSResponse.delete_cluster


def forget_cluster(account, region, name):
    """A deleted cluster takes its add-ons and associations with it, as on EKS."""
    key = (account, region, name)
    ADDONS.pop(key, None)
    ASSOCIATIONS.pop(key, None)
    ACCESS_ENTRIES.pop(key, None)


def delete_cluster(self):
    result = _original_delete_cluster(self)
    name = self._get_param("name")
    if name not in self.eks_backend.clusters:  # gone now, not DELETING for a while (moto_timed)
        forget_cluster(self.current_account, self.region, name)
    return result


def install():
    prefix = "{0}/clusters/(?P<name>[^/]+)"
    urls.url_paths.update({
        prefix + "/addons$": urls.response.dispatch,
        prefix + "/addons/(?P<addonName>[^/]+)$": urls.response.dispatch,
        prefix + "/addons/(?P<addonName>[^/]+)/update$": urls.response.dispatch,
        prefix + "/pod-identity-associations$": urls.response.dispatch,
        prefix + "/pod-identity-associations/(?P<associationId>[^/]+)$": urls.response.dispatch,
        prefix + "/access-entries$": urls.response.dispatch,
        prefix + "/access-entries/(?P<principalArn>.+)$": urls.response.dispatch,
        "{0}/addons/supported-versions$": urls.response.dispatch,
        "{0}/cluster-versions$": urls.response.dispatch,
    })
    for fn in (create_addon, describe_addon, update_addon, delete_addon, list_addons, describe_addon_versions,
               create_pod_identity_association, list_pod_identity_associations, delete_pod_identity_association,
               describe_pod_identity_association, update_pod_identity_association, create_access_entry,
               describe_access_entry, delete_access_entry, list_access_entries, delete_cluster,
               describe_cluster_versions):
        setattr(EKSResponse, fn.__name__, fn)


if __name__ == "__main__":
    install()
    moto_codeconnections.install()
    moto_ec2.install()
    moto_timed.install(forget_cluster)
    from moto.server import main
    sys.exit(main(sys.argv[1:]))
