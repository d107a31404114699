"""storage: which clusters' pods hold a credential for the store a dataset or model is in."""

from __future__ import annotations

import dataclasses

import pytest

from stackgen import storage
from stackgen.model import Cluster, Identity


def _cluster(cloud: str, **fields: object) -> Cluster:
    base = Cluster(name="c", cloud=cloud, region="r", kubernetes_version="1.31", roles=("serving",),  # type: ignore[arg-type]
                   storage_class="x", path=("spec", "clusters", 0))
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


AWS = _cluster("aws", identity=Identity(aws_role_arn="arn:aws:iam::1:role/r"))
GCP = _cluster("gcp", identity=Identity(gcp_service_account="a@p.iam.gserviceaccount.com"))
AZURE = _cluster("azure", identity=Identity(azure_client_id="3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"))
MINIO = _cluster("onprem", s3_endpoint="http://minio:9000", s3_credentials="minio")
BLOB = "https://acct.blob.core.windows.net/models/x"


@pytest.mark.parametrize(("uri", "store"), [
    ("s3://b/k", ("s3", False)), ("gs://b/k", ("gcs", False)), ("az://c/k", ("azure-blob", False)),
    ("abfss://c@acct.dfs.core.windows.net/k", ("azure-blob", False)), (BLOB, ("azure-blob", True)),
    ("https://ACCT.DFS.core.windows.net/c/k", ("azure-blob", True)),
    ("pvc://claim/x", None), ("hf://org/model", None), ("https://example.com/m.onnx", None),
    ("https://core.windows.net.example.com/x", None),
])
def test_the_store_a_uri_names(uri: str, store: tuple[str, bool] | None) -> None:
    assert storage.store_of(uri) == store


@pytest.mark.parametrize("cluster", [AWS, MINIO])
def test_s3_is_reached_by_the_aws_identity_or_by_keys(cluster: Cluster) -> None:
    assert storage.gap("s3://b/k", cluster) is None


@pytest.mark.parametrize(("uri", "cluster"), [("gs://b/k", GCP), (BLOB, AZURE), ("az://c/k", AZURE)])
def test_each_cloud_store_is_reached_by_its_own_identity(uri: str, cluster: Cluster) -> None:
    assert storage.gap(uri, cluster) is None


@pytest.mark.parametrize(("uri", "cluster", "store"), [
    ("s3://b/k", GCP, "s3"), ("s3://b/k", AZURE, "s3"), ("s3://b/k", _cluster("onprem"), "s3"),
    ("gs://b/k", AWS, "gcs"), ("gs://b/k", MINIO, "gcs"), ("az://c/k", GCP, "azure-blob"), ("abfss://c@a.dfs.core.windows.net/k", AWS, "azure-blob"),
])
def test_a_store_of_another_cloud_without_keys_is_out_of_reach(uri: str, cluster: Cluster, store: str) -> None:
    found = storage.gap(uri, cluster)
    assert found is not None and (found.severity, found.store) == ("error", store)
    assert f"runs on {cluster.cloud}" in found.reason


def test_the_s3_hint_names_the_fields_that_fix_it() -> None:
    found = storage.gap("s3://b/k", GCP)
    assert found is not None and "s3Endpoint and s3Credentials" in found.hint


@pytest.mark.parametrize(("uri", "cluster", "field"), [
    ("s3://b/k", _cluster("aws"), "awsRoleArn"), ("gs://b/k", _cluster("gcp"), "gcpServiceAccount"), (BLOB, _cluster("azure"), "azureClientId"),
])
def test_the_home_cloud_without_identity_falls_back_to_the_node_with_a_warning(uri: str, cluster: Cluster, field: str) -> None:
    found = storage.gap(uri, cluster)
    assert found is not None and found.severity == "warning" and f"identity.{field}" in found.hint


def test_a_public_container_or_an_anonymous_endpoint_is_a_warning_not_an_error() -> None:
    public = storage.gap(BLOB, GCP)
    anonymous = storage.gap("s3://b/k", _cluster("onprem", s3_endpoint="http://minio:9000"))
    assert public is not None and public.severity == "warning" and "public container" in public.reason
    assert anonymous is not None and anonymous.severity == "warning" and "anonymously" in anonymous.reason


def test_keys_without_an_endpoint_reach_nothing() -> None:
    # compile lists the keys on the workload account only together with s3Endpoint
    found = storage.gap("s3://b/k", _cluster("gcp", s3_credentials="keys"))
    assert found is not None and found.severity == "error"
