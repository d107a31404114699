"""Whether the pods that read a dataset or a model on a cluster hold a credential for its storage.

Training pods and KServe's storage initializer run under the workload service account stackgen
writes in each namespace (compile/workloads.py). That account carries the cluster's own cloud
identity (IRSA on EKS, Workload Identity on GKE and AKS) and, where `s3Credentials` is set, the
S3 keys KServe and the S3 SDKs read. Nothing else gives them a credential: an object store of
another cloud, with no keys, is out of reach, and the first model download fails in a crash loop
long after the sync reported success. Each rule here decides one (store, cluster) pair.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from stackgen.model import Cluster, Identity

Store = t.Literal["s3", "gcs", "azure-blob"]

# KServe's storage initializer recognises Azure Blob by host name
# (kserve/python/kserve/storage/storage.py, `_AZURE_BLOB_RE`); ADLS Gen2 is the same account.
_AZURE_HOST = re.compile(r"^https://[^/]+\.(?:blob|dfs)\.core\.windows\.net/", re.I)


@dataclass(frozen=True)
class Gap:
    """A store the cluster's pods may not reach: `error` when nothing they hold can."""

    severity: t.Literal["error", "warning"]
    store: Store
    reason: str
    hint: str


def store_of(uri: str) -> tuple[Store, bool] | None:
    """The object store a URI names, and whether it can be read anonymously (a public https
    container); None for what needs no cloud credential (pvc://, hf://, other https://)."""
    scheme = uri.partition("://")[0].lower()
    if scheme == "s3":
        return "s3", False
    if scheme == "gs":
        return "gcs", False
    if scheme in ("az", "abfss"):
        return "azure-blob", False
    if _AZURE_HOST.match(uri):
        return "azure-blob", True
    return None


_HOME_CLOUD: t.Mapping[Store, str] = {"s3": "aws", "gcs": "gcp", "azure-blob": "azure"}
_NAMES: t.Mapping[Store, str] = {"s3": "S3", "gcs": "Cloud Storage", "azure-blob": "Azure Blob Storage"}


def gap(uri: str, cluster: Cluster, identity: Identity | None = None, tenant: str | None = None) -> Gap | None:
    """What stands between the cluster's workload pods and the store `uri` is in, if anything.

    `identity` is what the pods run with: the namespace identity of `tenant`
    (model.Tenant.identity_on) where the workload runs in a tenant's namespace, else the
    cluster's own."""
    found = store_of(uri)
    if found is None:
        return None
    store, may_be_public = found
    if store == "s3" and cluster.s3_endpoint:
        if cluster.s3_credentials:
            return None  # keys and endpoint from the Secret listed on the workload account
        return Gap("warning", store, f"its pods read {cluster.s3_endpoint} anonymously: the cluster sets s3Endpoint without s3Credentials",
                   "name the secret with the store's keys in s3Credentials, unless the bucket is public")
    home = _HOME_CLOUD[store]
    if cluster.cloud == home:
        if _identity_of(identity or cluster.identity, store):
            return None
        return Gap("warning", store, f"its pods carry no workload identity of their own: the store sees {_node_identity(store)}",
                   (f"give tenant `{tenant}` (or the cluster) identity.{_IDENTITY_FIELD[store]} so its default-editor account reads "
                    f"{_NAMES[store]} as itself" if tenant else
                    f"give the cluster identity.{_IDENTITY_FIELD[store]} so the workload account reads {_NAMES[store]} as itself"))
    reason = f"the cluster runs on {cluster.cloud}, whose pods hold no {_NAMES[store]} credential"
    if may_be_public:
        return Gap("warning", store, reason + " (only a public container can be read)", _elsewhere_hint(store))
    return Gap("error", store, reason, _elsewhere_hint(store))


_IDENTITY_FIELD: t.Mapping[Store, str] = {"s3": "awsRoleArn", "gcs": "gcpServiceAccount", "azure-blob": "azureClientId"}


def _identity_of(identity: Identity, store: Store) -> str | None:
    return {"s3": identity.aws_role_arn, "gcs": identity.gcp_service_account, "azure-blob": identity.azure_client_id}[store]


def _node_identity(store: Store) -> str:
    # What answers a pod without its own identity: EKS, the node's instance role through IMDS
    # (where the hop limit lets pods reach it); GKE, the node pool's service account, or with
    # Workload Identity on, the bare Kubernetes principal; AKS, the kubelet's managed identity.
    return {"s3": "the node's instance role, if IMDS lets pods reach it",
            "gcs": "the node's service account, or with Workload Identity the namespace's Kubernetes principal",
            "azure-blob": "the kubelet's managed identity"}[store]


def _elsewhere_hint(store: Store) -> str:
    if store == "s3":
        return "set s3Endpoint and s3Credentials on the cluster (keys from its own secret store), or copy it to a store the cluster can reach"
    return f"copy it to a store the cluster can reach, or put it on a {_HOME_CLOUD[store]} cluster"
