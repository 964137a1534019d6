"""moto-ekskit: moto's server with the EKS operations moto 5.2.5 does not model yet, so mkeks
runs against the emulator end to end: add-ons (Create/Describe/List/Update/DeleteAddon,
DescribeAddonVersions per Kubernetes version), DescribeClusterVersions, Pod Identity associations (Create/Describe/List/Update/Delete
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

import moto_automode  # EKS Auto Mode at CreateCluster, access policies
import moto_capabilities  # EKS Capabilities: managed Argo CD
import moto_codeconnections  # CodeConnections and CodeBuild pieces for mkpipeline
import moto_ec2  # repeated EC2 calls answered as AWS does (NAT ClientToken, endpoint deletes)
import moto_timed  # AWS that takes time: timing rules, states and failures
import moto_upgrades  # UpdateClusterVersion, UpdateNodegroupVersion, updates, upgrade insights

# Add-on versions the emulator offers: (version, the Kubernetes minors it runs on, those it is
# the default for), as DescribeAddonVersions answers; a new add-on gets its cluster's default.
ADDON_VERSIONS = {
    "vpc-cni": [("v1.20.4-eksbuild.2", "1.31-1.36", "1.31-1.34"), ("v1.21.1-eksbuild.1", "1.32-1.36", "1.35-1.36")],
    "coredns": [("v1.11.4-eksbuild.24", "1.31-1.33", "1.31-1.33"), ("v1.12.4-eksbuild.1", "1.34-1.36", "1.34-1.35"),
                ("v1.13.1-eksbuild.1", "1.35-1.36", "1.36")],
    "kube-proxy": [(f"v1.{m}.0-eksbuild.2", f"1.{m}", f"1.{m}") for m in range(31, 37)],
    "eks-pod-identity-agent": [("v1.3.10-eksbuild.1", "1.31-1.36", "1.31-1.36")],
    "aws-ebs-csi-driver": [("v1.51.0-eksbuild.1", "1.31-1.36", "1.31-1.36")],
}


def _minors(span):
    """"1.31-1.36" → {"1.31", ..., "1.36"}; "1.35" → {"1.35"}."""
    first, _, last = span.partition("-")
    low, high = int(first.split(".")[1]), int((last or first).split(".")[1])
    return {f"1.{m}" for m in range(low, high + 1)}


def addon_default(name, kubernetes):
    """The default version of add-on `name` on Kubernetes `kubernetes`, else its newest."""
    versions = ADDON_VERSIONS[name]
    return next((v for v, _, default in versions if kubernetes in _minors(default)), versions[-1][0])


def addon_runs_on(name, version, kubernetes):
    return any(v == version and kubernetes in _minors(runs) for v, runs, _ in ADDON_VERSIONS.get(name, []))


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
    kubernetes = self.eks_backend.clusters[cluster].version
    version = self._get_param("addonVersion") or addon_default(name, kubernetes)
    if not addon_runs_on(name, version, kubernetes):
        raise InvalidParameterException(message=f"Addon version specified is not supported: {name} {version} on {kubernetes}")
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
    cluster = self.eks_backend.clusters[addon["clusterName"]]
    version = self._get_param("addonVersion")
    if addon["status"] in ("UPDATING", "DELETING"):
        raise ResourceInUseException(clusterName=cluster.name, addonName=addon["addonName"],
                                     message=f"Addon {addon['addonName']} is {addon['status']}: an update is in progress")
    if version and not addon_runs_on(addon["addonName"], version, cluster.version):
        raise InvalidParameterException(
            message=f"Addon version specified is not supported: {addon['addonName']} {version} on {cluster.version}")
    params = [{"type": "AddonVersion", "value": version}] if version else []
    values = self._get_param("configurationValues")
    if values is not None:
        params.append({"type": "ConfigurationValues", "value": values})
    if self._get_param("resolveConflicts"):
        params.append({"type": "ResolveConflicts", "value": self._get_param("resolveConflicts")})
    update = moto_upgrades.record(self, cluster.name, ("addon", addon["addonName"]), "addon", params,
                                  "VersionUpdate" if version else "AddonUpdate")

    def finish():
        if version:
            addon["addonVersion"] = version
        if values is not None:
            addon["configurationValues"] = values
        addon["status"], addon["modifiedAt"] = "ACTIVE", _now()

    names = [addon["addonName"], cluster.name, addon["tags"].get(moto_timed.STACK_TAG, "")]
    moto_upgrades.take_time("addon", addon, names, update, finish)
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
    wanted, kubernetes = self._get_param("addonName"), self._get_param("kubernetesVersion")
    found = []
    for name, versions in ADDON_VERSIONS.items():
        if wanted not in (None, name):
            continue
        listed = [
            {"addonVersion": v, "architecture": ["amd64", "arm64"], "requiresConfiguration": False,
             "compatibilities": [{"clusterVersion": m, "platformVersions": ["*"], "defaultVersion": m in _minors(default)}
                                 for m in sorted(_minors(runs), key=moto_upgrades.minor) if kubernetes in (None, m)]}
            for v, runs, default in reversed(versions)  # newest first, as EKS lists them
        ]
        listed = [v for v in listed if v["compatibilities"]]
        if listed:
            found.append({"addonName": name, "type": "networking", "addonVersions": listed})
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
    moto_upgrades.UPDATES.pop(key, None)
    moto_capabilities.forget(key)


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
    moto_upgrades.install(_cluster, [v for v, status, *_ in CLUSTER_VERSIONS if status != "UNSUPPORTED"])
    moto_automode.install(EKSResponse, ACCESS_ENTRIES, _cluster)
    moto_capabilities.install(EKSResponse, urls, _cluster, ACCESS_ENTRIES)
    from moto.server import main
    sys.exit(main(sys.argv[1:]))
