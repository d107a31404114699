"""Workload objects: jobs by their data, models where served, identity and GPUs per cloud."""

from __future__ import annotations

import typing as t

import pytest

from stackgen.compile import workloads
from stackgen.model import Cluster, Gpu, Identity
from tests.compiling import BUNDLED, HEADER, placed


def _own(text: str, cluster: str) -> dict[str, t.Any]:
    stack, placement = placed(text)
    return workloads.own_objects(stack, placement.plan(cluster))


def test_bundled_train_job_maps_workers_gpus_and_data() -> None:
    job = _own(BUNDLED.read_text(), "aws-use1")["trainjob-resnet50.yaml"]
    assert job["apiVersion"] == "trainer.kubeflow.org/v1alpha1"
    spec = job["spec"]
    assert spec["runtimeRef"] == {"name": "torch-distributed"}
    assert spec["trainer"]["numNodes"] == 4
    assert spec["trainer"]["resourcesPerNode"]["limits"] == {"nvidia.com/gpu": "8"}
    assert {"name": "DATASET_URI", "value": "s3://acme-data/imagenet"} in spec["trainer"]["env"]
    pod = spec["podTemplateOverrides"][0]["spec"]
    assert pod["serviceAccountName"] == workloads.WORKLOAD_SERVICE_ACCOUNT
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


def test_identity_annotations_per_cloud() -> None:
    text = BUNDLED.read_text()
    aws = _own(text, "aws-use1")["serviceaccount-ml.yaml"]["metadata"]
    assert aws["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/acme-ml-workloads"}
    gcp = _own(text, "gcp-euw4")["serviceaccount-ml.yaml"]["metadata"]
    assert gcp["annotations"] == {"iam.gke.io/gcp-service-account": "ml-serving@acme-ml.iam.gserviceaccount.com"}
    azure = _own(text, "azure-weu")
    assert azure["serviceaccount-ml.yaml"]["metadata"]["annotations"] == {
        "azure.workload.identity/client-id": "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
    }
    assert azure["inferenceservice-resnet50.yaml"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    # On-prem has no workload identity. KServe reads an S3-compatible store's endpoint and keys
    # from a Secret listed on the service account (annotations on the account count only with
    # IRSA), and training jobs read the keys from their environment.
    edge = _own(text, "edge-store17")
    account = edge["serviceaccount-ml.yaml"]
    assert "annotations" not in account["metadata"] and account["secrets"] == [{"name": "minio"}]
    template = edge["externalsecret-ml-minio.yaml"]["spec"]["target"]["template"]
    assert template["metadata"]["annotations"] == {"serving.kserve.io/s3-endpoint": "minio.store17.lan:9000", "serving.kserve.io/s3-usehttps": "0"}


def test_training_jobs_on_an_s3_endpoint_read_its_keys() -> None:
    text = BUNDLED.read_text().replace("roles: [edge]", "roles: [edge, training]").replace(
        "  datasets:\n", "  datasets:\n    - {name: receipts, uri: \"s3://store17/receipts\", cluster: edge-store17}\n").replace(
        "  trainingJobs:\n", "  trainingJobs:\n    - {name: demand, dataset: receipts, image: \"ghcr.io/acme/demand:1.0\", workers: 2}\n")
    job = _own(text, "edge-store17")["trainjob-demand.yaml"]
    env = {e["name"]: e for e in job["spec"]["trainer"]["env"]}
    assert env["AWS_ENDPOINT_URL"]["value"] == "http://minio.store17.lan:9000"
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "minio", "key": "AWS_SECRET_ACCESS_KEY"}}


def test_models_on_edge_run_in_standard_mode_with_small_requests() -> None:
    text = BUNDLED.read_text()
    edge = _own(text, "edge-store17")["inferenceservice-resnet50.yaml"]
    assert edge["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "Standard"}
    assert edge["spec"]["predictor"]["model"]["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    serving = _own(text, "gcp-euw4")["inferenceservice-resnet50.yaml"]
    assert "annotations" not in serving["metadata"]
    assert serving["spec"]["predictor"]["model"]["modelFormat"] == {"name": "pytorch"}
    assert serving["spec"]["predictor"]["minReplicas"] == 2


def test_namespaces_join_the_mesh_only_where_istio_runs() -> None:
    text = BUNDLED.read_text()
    assert _own(text, "gcp-euw4")["namespace-ml.yaml"]["metadata"]["labels"]["istio-injection"] == "enabled"
    assert "istio-injection" not in _own(text, "edge-store17")["namespace-ml.yaml"]["metadata"]["labels"]


def test_volume_dataset_gets_a_claim_with_the_cluster_storage_class() -> None:
    objects = _own(HEADER + """
  clusters:
    - {name: g, cloud: gcp, region: us-east1, kubernetesVersion: "1.31", roles: [training]}
  datasets:
    - {name: scans, uri: "pvc://scans", cluster: g, size: 3Ti}
  trainingJobs:
    - {name: seg, dataset: scans, image: "x/y:1", namespace: vision}
""", "g")
    claim = objects["pvc-vision-scans.yaml"]
    assert claim["spec"]["storageClassName"] == "pd-balanced"
    assert claim["spec"]["resources"]["requests"]["storage"] == "3Ti"
    assert objects["storageclass-pd-balanced.yaml"]["provisioner"] == "pd.csi.storage.gke.io"
    pod = objects["trainjob-seg.yaml"]["spec"]["podTemplateOverrides"][0]["spec"]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "scans"


def test_volume_dataset_without_size_is_refused_at_the_dataset() -> None:
    _, placement = placed(HEADER + """
  clusters:
    - {name: g, cloud: gcp, region: us-east1, kubernetesVersion: "1.31", roles: [training]}
  datasets:
    - {name: scans, uri: "pvc://scans", cluster: g}
  trainingJobs:
    - {name: seg, dataset: scans, image: "x/y:1", runtime: torch-nightly}
""")
    assert sorted((f.code, f.path) for f in placement.findings) == [
        ("SG404", ("spec", "trainingJobs", 0, "runtime")),
        ("SG405", ("spec", "datasets", 0)),
    ]


@pytest.mark.parametrize(
    ("cloud", "gpu", "selector"),
    [
        ("gcp", Gpu("nvidia", "a100"), {"cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}),
        ("gcp", Gpu("nvidia", "l4"), {"cloud.google.com/gke-accelerator": "nvidia-l4"}),
        # The labels the installed GPU operator sets on every GPU node, however it was provisioned
        # (was `karpenter.k8s.aws/instance-gpu-name`, on Karpenter nodes only, and
        # `amd.com/gpu.present`, which nothing sets).
        ("aws", Gpu("nvidia", "h100"), {"nvidia.com/gpu.present": "true"}),
        ("azure", Gpu("nvidia", "a100"), {"nvidia.com/gpu.present": "true"}),
        ("onprem", Gpu("nvidia", "l40s"), {"nvidia.com/gpu.present": "true"}),
        ("onprem", Gpu("amd", "mi300x"), {"feature.node.kubernetes.io/amd-gpu": "true"}),
    ],
)
def test_gpu_scheduling_per_cloud(cloud: str, gpu: Gpu, selector: dict[str, str]) -> None:
    cluster = Cluster("c", cloud, "r", "1.31", ("training",), "sc", ("spec", "clusters", 0), gpu=gpu, identity=Identity())  # type: ignore[arg-type]
    found_selector, tolerations = workloads.gpu_scheduling(cluster)
    assert found_selector == selector
    resource = "amd.com/gpu" if gpu.vendor == "amd" else "nvidia.com/gpu"
    assert tolerations[0] == {"key": resource, "operator": "Exists", "effect": "NoSchedule"}
