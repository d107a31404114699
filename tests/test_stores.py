"""Secrets become SecretStore + ExternalSecret, valid against the real External Secrets CRDs."""

from __future__ import annotations

import pytest

from stackgen import crds
from stackgen.compile import stores
from stackgen.model import Cluster, Identity, Secret, SecretRef
from tests.upstream import UPSTREAM, requires_upstream

LABELS = {"app.kubernetes.io/managed-by": "stackgen"}


def _cluster(cloud: str, **identity: str) -> Cluster:
    return Cluster("c1", cloud, "europe-west4", "1.31", ("serving",), "sc", ("spec", "clusters", 0), identity=Identity(**identity))  # type: ignore[arg-type]


def _secret(store: str, key: str, auth: bool = False) -> Secret:
    return Secret("creds", "ml", store, key, ("spec", "secrets", 0), auth=SecretRef("store-creds") if auth else None)


CASES = [
    ("aws-secrets-manager", "ml/s3", False, _cluster("aws"), {"aws"}),
    ("aws-secrets-manager", "arn:aws:secretsmanager:us-west-2:123456789012:secret:ml/s3", True, _cluster("onprem"), {"aws"}),
    ("gcp-secret-manager", "hf-token", False, _cluster("gcp", gcp_service_account="sa-serving@acme-ml.iam.gserviceaccount.com"), {"gcpsm"}),
    ("gcp-secret-manager", "projects/acme-ml/secrets/hf-token", True, _cluster("azure"), {"gcpsm"}),
    ("azure-key-vault", "acme-kv/hf-token", False, _cluster("azure", azure_client_id="3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", azure_tenant_id="6f2a9c1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"),
     {"azurekv"}),
    ("azure-key-vault", "https://acme-kv.vault.azure.net/secrets/hf-token", True, _cluster("gcp", azure_tenant_id="6f2a9c1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"), {"azurekv"}),
    ("vault", "https://vault.example.com:8200/secret/ml/token", True, _cluster("onprem"), {"vault"}),
]


@requires_upstream
@pytest.mark.parametrize(("store", "key", "auth", "cluster", "provider"), CASES, ids=[f"{c[0]}-{c[3].cloud}" for c in CASES])
def test_store_objects_validate_against_the_real_crds(store: str, key: str, auth: bool, cluster: Cluster, provider: set[str]) -> None:
    schemas = crds.schemas_from_dir(UPSTREAM / "crds")
    objects = stores.objects(_secret(store, key, auth), cluster, LABELS)
    kinds = {body["kind"]: body for body in objects.values()}
    assert set(kinds) == {"SecretStore", "ExternalSecret"}
    for body in objects.values():
        assert crds.validate_object(body, schemas) == [], body
    assert set(kinds["SecretStore"]["spec"]["provider"]) == provider
    assert "data" not in kinds["ExternalSecret"] and "stringData" not in kinds["ExternalSecret"]


def test_identity_on_its_own_cloud_and_credentials_elsewhere() -> None:
    own_cloud = stores.store_for(_secret("aws-secrets-manager", "ml/s3"), _cluster("aws"))
    assert own_cloud.provider["aws"]["auth"] == {"jwt": {"serviceAccountRef": {"name": "stackgen-workload"}}}
    assert own_cloud.provider["aws"]["region"] == "europe-west4"
    elsewhere = stores.store_for(_secret("aws-secrets-manager", "arn:aws:secretsmanager:us-west-2:123456789012:secret:ml/s3", True), _cluster("gcp"))
    assert elsewhere.provider["aws"]["region"] == "us-west-2"
    assert elsewhere.provider["aws"]["auth"]["secretRef"]["accessKeyIDSecretRef"]["name"] == "store-creds"
    gcp = stores.store_for(_secret("gcp-secret-manager", "hf"), _cluster("gcp", gcp_service_account="sa-serving@acme-ml.iam.gserviceaccount.com"))
    assert gcp.provider["gcpsm"]["projectID"] == "acme-ml"


def test_key_vault_stores_name_their_tenant_or_fail_at_the_key() -> None:
    """Without `tenantId` ESO reads AZURE_TENANT_ID from its own pod, which the add-on never sets."""
    secret = _secret("azure-key-vault", "acme-kv/hf-token")
    store = stores.store_for(secret, _cluster("azure", azure_tenant_id="6f2a9c1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"))
    assert store.provider["azurekv"]["tenantId"] == "6f2a9c1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
    with pytest.raises(stores.StoreProblem, match="tenant"):
        stores.store_for(secret, _cluster("azure"))


@pytest.mark.parametrize(("store", "key", "cloud", "hint"), [
    ("aws-secrets-manager", "ml/s3", "gcp", "ARN"),
    ("gcp-secret-manager", "hf", "aws", "projects/<project>"),
    ("azure-key-vault", "just-a-name/with/slashes", "azure", "<vault-name>/<secret-name>"),
    ("vault", "ml/token", "onprem", "https://<vault-host>"),
])
def test_a_store_the_cluster_cannot_locate_is_refused_with_how_to_fix_it(store: str, key: str, cloud: str, hint: str) -> None:
    with pytest.raises(stores.StoreProblem) as problem:
        stores.store_for(_secret(store, key, True), _cluster(cloud))
    assert hint in problem.value.hint


def test_a_plain_string_value_lands_under_one_key() -> None:
    """`dataFrom.extract` fails on a value that is not a JSON object: `valueAs` names its key instead."""
    plain = Secret("hf", "ml", "vault", "https://vault.example.com:8200/secret/ml/hf", ("spec", "secrets", 0), auth=SecretRef("t"), value_as="token")
    objects = stores.objects(plain, _cluster("onprem"), LABELS)
    if (UPSTREAM / "crds").is_dir():
        schemas = crds.schemas_from_dir(UPSTREAM / "crds")
        assert all(crds.validate_object(body, schemas) == [] for body in objects.values())
    spec = objects["externalsecret-ml-hf.yaml"]["spec"]
    assert spec["data"] == [{"secretKey": "token", "remoteRef": {"key": "ml/hf"}}] and "dataFrom" not in spec
    whole = stores.objects(_secret("vault", "https://vault.example.com:8200/secret/ml/token", True), _cluster("onprem"), LABELS)
    assert whole["externalsecret-ml-creds.yaml"]["spec"]["dataFrom"] == [{"extract": {"key": "ml/token"}}]
