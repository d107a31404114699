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

from stackgen.model import Cluster, Identity, ObjectStore

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


@dataclass(frozen=True)
class S3Api:
    """Where an `objectStore` answers the S3 API, as Pipelines' clients take it."""

    host: str
    port: int
    secure: bool
    region: str


class NoS3Api(Exception):
    """The object store cannot be read through the S3 API from this cluster."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


def s3_api(store: ObjectStore, cluster: Cluster) -> S3Api:
    """The S3 endpoint of a cluster's object store: the one declared, else the cloud's own.

    Pipelines reads its object store only through S3 clients (the API server's minio-go, the
    launcher's `s3` provider, Argo's artifact repository: kubeflow.org "Object Store
    Configuration"), so a store must speak S3. Amazon S3 answers at
    `s3.<region>.amazonaws.com` (AWS docs, "Amazon S3 endpoints"); Cloud Storage at
    `storage.googleapis.com` through its XML API's S3 interoperability with HMAC keys, signing
    for region `auto` (Cloud Storage docs, "Simple migration from Amazon S3"); Azure Blob
    Storage has no S3 API, and on-prem only the operator knows the endpoint.
    """
    if store.endpoint:
        if store_of(store.endpoint.rstrip("/") + "/") == ("azure-blob", True):
            raise NoS3Api(f"objectStore.endpoint {store.endpoint} is Azure Blob Storage, which has no S3 API; "
                          "Pipelines reads its object store through S3 clients only",
                          "name an S3-compatible gateway in front of it, or a bucket of an S3-compatible store")
        scheme, _, rest = store.endpoint.partition("://")
        host, _, port = rest.split("/", 1)[0].partition(":")
        secure = scheme == "https"
        return S3Api(host, int(port) if port else (443 if secure else 80), secure, store.region or _default_region(cluster))
    if cluster.cloud == "aws":
        return S3Api(f"s3.{store.region or cluster.region}.amazonaws.com", 443, True, store.region or cluster.region)
    if cluster.cloud == "gcp":
        return S3Api("storage.googleapis.com", 443, True, store.region or "auto")
    what = "Azure Blob Storage has no S3 API" if cluster.cloud == "azure" else "an on-prem cluster has no object store of its own"
    raise NoS3Api(f"cluster `{cluster.name}` declares an object store without an endpoint, and {what}",
                  "set objectStore.endpoint to the S3-compatible endpoint (https://host:port)")


def _default_region(cluster: Cluster) -> str:
    # minio-go and the AWS SDKs sign for a region; S3-compatible stores mostly accept us-east-1,
    # the region upstream's own SeaweedFS set-up uses (AWS_REGION on the profile controller).
    return cluster.region if cluster.cloud == "aws" else "us-east-1"
