"""Secret references -> External Secrets objects: a SecretStore for the cloud's store and an
ExternalSecret that materialises the Secret in the cluster. stack.yaml never holds a value.

Where the store is the cluster's own cloud's, the workload identity of the namespace's service
account reaches it (IRSA, GKE Workload Identity, Azure Workload Identity); anywhere else the
secret names a credentials Secret the operator creates (`auth.secretRef`). Where a store lives
is read from the key when the cluster cannot tell: an AWS secret ARN carries its region, a GCP
`projects/<p>/secrets/<s>` name its project, `<vault>/<name>` an Azure Key Vault, and
`https://host:port/<mount>/<path>` a HashiCorp Vault server.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from stackgen.model import Cluster, Secret

Object = dict[str, t.Any]
WORKLOAD_SERVICE_ACCOUNT = "stackgen-workload"
ESO_API = "external-secrets.io/v1"

_AWS_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:(.+)$")
_GCP_NAME = re.compile(r"^projects/([a-z][a-z0-9-]{4,28}[a-z0-9])/secrets/([A-Za-z0-9_-]+)(/versions/.+)?$")
_AZURE_KEY = re.compile(r"^(?:https://)?([a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9])(?:\.vault\.azure\.net/secrets)?/([A-Za-z0-9-]+)$")
_VAULT_URL = re.compile(r"^(https?://[^/\s]+)/([^/\s]+)/(.+)$")


class StoreProblem(Exception):
    """The secret's store cannot be located from this cluster: a placement error at the key."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class StoreRef:
    provider: Object
    remote_key: str


def store_for(secret: Secret, cluster: Cluster) -> StoreRef:
    return {
        "aws-secrets-manager": _aws,
        "gcp-secret-manager": _gcp,
        "azure-key-vault": _azure,
        "vault": _vault,
    }[secret.store](secret, cluster)


def _credentials(secret: Secret, default_key: str) -> Object:
    assert secret.auth is not None
    return {"name": secret.auth.name, "key": secret.auth.key or default_key}


def _aws(secret: Secret, cluster: Cluster) -> StoreRef:
    arn = _AWS_ARN.match(secret.key)
    region = arn.group(1) if arn else (cluster.region if cluster.cloud == "aws" else None)
    if region is None:
        raise StoreProblem(
            f"secret `{secret.name}` reaches AWS Secrets Manager from {cluster.cloud} cluster `{cluster.name}`, which cannot tell the region",
            "write its key as the secret's ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)",
        )
    if secret.auth is None:
        auth: Object = {"jwt": {"serviceAccountRef": {"name": WORKLOAD_SERVICE_ACCOUNT}}}
    else:
        auth = {"secretRef": {"accessKeyIDSecretRef": _credentials(secret, "access-key-id"),
                              "secretAccessKeySecretRef": {"name": secret.auth.name, "key": "secret-access-key"}}}
    return StoreRef({"aws": {"service": "SecretsManager", "region": region, "auth": auth}}, secret.key)


def _gcp(secret: Secret, cluster: Cluster) -> StoreRef:
    named = _GCP_NAME.match(secret.key)
    account = cluster.identity.gcp_service_account if cluster.cloud == "gcp" else None
    project = named.group(1) if named else (account.split("@")[1].split(".")[0] if account else None)
    if project is None:
        raise StoreProblem(
            f"secret `{secret.name}` reaches GCP Secret Manager from cluster `{cluster.name}`, which cannot tell the project",
            "write its key as projects/<project>/secrets/<name>, or give the cluster identity.gcpServiceAccount",
        )
    remote = named.group(2) if named else secret.key
    if secret.auth is None:
        auth: Object = {"workloadIdentity": {"clusterLocation": cluster.region, "clusterName": cluster.name,
                                             "serviceAccountRef": {"name": WORKLOAD_SERVICE_ACCOUNT}}}
    else:
        auth = {"secretRef": {"secretAccessKeySecretRef": _credentials(secret, "credentials.json")}}
    return StoreRef({"gcpsm": {"projectID": project, "auth": auth}}, remote)


def _azure(secret: Secret, cluster: Cluster) -> StoreRef:
    named = _AZURE_KEY.match(secret.key)
    if named is None:
        raise StoreProblem(f"secret `{secret.name}`: the key does not say which Key Vault holds it",
                           "write its key as <vault-name>/<secret-name>")
    vault_url = f"https://{named.group(1)}.vault.azure.net"
    tenant = cluster.identity.azure_tenant_id
    if tenant is None:
        # Without tenantId in the provider, ESO falls back to AZURE_TENANT_ID in its own pod,
        # which the add-on never sets: the store stays not Ready (ESO docs, Azure Key Vault provider).
        raise StoreProblem(f"secret `{secret.name}` reaches Azure Key Vault from cluster `{cluster.name}`, which does not say the vault's tenant",
                           "add `identity: {azureTenantId: <tenant GUID>}` to the cluster (az account show --query tenantId)")
    if secret.auth is None:
        provider: Object = {"vaultUrl": vault_url, "tenantId": tenant, "authType": "WorkloadIdentity",
                            "serviceAccountRef": {"name": WORKLOAD_SERVICE_ACCOUNT}}
    else:
        provider = {"vaultUrl": vault_url, "tenantId": tenant, "authType": "ServicePrincipal",
                    "authSecretRef": {"clientId": {"name": secret.auth.name, "key": "client-id"},
                                      "clientSecret": {"name": secret.auth.name, "key": "client-secret"}}}
    return StoreRef({"azurekv": provider}, named.group(2))


def _vault(secret: Secret, cluster: Cluster) -> StoreRef:
    located = _VAULT_URL.match(secret.key)
    if located is None:
        raise StoreProblem(f"secret `{secret.name}`: the key does not say which Vault server holds it",
                           "write its key as https://<vault-host>:8200/<mount>/<path>")
    server, mount, path = located.groups()
    auth = {"tokenSecretRef": _credentials(secret, "token")}
    return StoreRef({"vault": {"server": server, "path": mount, "version": "v2", "auth": auth}}, path)


def objects(secret: Secret, cluster: Cluster, labels: t.Mapping[str, str], target: str | None = None,
            annotations: t.Mapping[str, str] | None = None) -> dict[str, Object]:
    """File name -> object: the SecretStore and the ExternalSecret of one secret on one cluster.

    `target` names the Secret materialised when it differs from the reference's name (an
    upstream generated Secret keeps its content-hash suffix, which its users reference).
    """
    store = store_for(secret, cluster)
    metadata = {"name": secret.name, "namespace": secret.namespace, "labels": dict(labels)}
    secret_target: Object = {"name": target or secret.name, "creationPolicy": "Owner"}
    if annotations:
        # Annotations of the Secret ESO makes; with no template data it keeps the fetched keys.
        secret_target["template"] = {"metadata": {"annotations": dict(annotations)}}
    return {
        f"secretstore-{secret.namespace}-{secret.name}.yaml": {
            "apiVersion": ESO_API, "kind": "SecretStore", "metadata": metadata, "spec": {"provider": store.provider},
        },
        f"externalsecret-{secret.namespace}-{secret.name}.yaml": {
            "apiVersion": ESO_API,
            "kind": "ExternalSecret",
            "metadata": dict(metadata),
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "SecretStore", "name": secret.name},
                "target": secret_target,
                **_data(secret, store),
            },
        },
    }


def _data(secret: Secret, store: StoreRef) -> Object:
    """`dataFrom.extract` turns a remote JSON object into one key per field and fails on a plain
    string (ESO: "unable to unmarshal secret"); `valueAs` maps such a value to one key instead.
    `properties` picks fields of the remote JSON under the keys the pods read (ESO's
    `remoteRef.property`): an external database's one login as each component's own Secret."""
    if secret.properties:
        return {"data": [{"secretKey": key, "remoteRef": {"key": store.remote_key, "property": field}} for key, field in secret.properties]}
    if secret.value_as:
        return {"data": [{"secretKey": secret.value_as, "remoteRef": {"key": store.remote_key}}]}
    return {"dataFrom": [{"extract": {"key": store.remote_key}}]}
