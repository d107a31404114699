"""The objects stackgen authors for one cluster's own folder: workloads and their plumbing.

Training jobs become Kubeflow Trainer `TrainJob`s, models KServe `InferenceService`s; around
them the namespaces they use, a service account carrying the cluster's workload identity (so
pods read buckets without keys), the PVCs of volume datasets, and GPU scheduling the way each
cloud labels and taints its GPU nodes. Pure: model in, plain objects out.
"""

from __future__ import annotations

import typing as t

from stackgen import catalog, images, stores
from stackgen.model import STORE_CLOUD, Cluster, Model, Stack, TrainingJob
from stackgen.place import ClusterPlan

Object = dict[str, t.Any]
WORKLOAD_SERVICE_ACCOUNT = stores.WORKLOAD_SERVICE_ACCOUNT
MANAGED_BY = {"app.kubernetes.io/managed-by": "stackgen"}

# How GKE names accelerators in its node label (cloud.google.com/gke-accelerator).
_GKE_ACCELERATORS = {
    "a100": "nvidia-tesla-a100", "a100-80gb": "nvidia-a100-80gb", "h100": "nvidia-h100-80gb",
    "h100-mega": "nvidia-h100-mega-80gb", "h200": "nvidia-h200-141gb", "l4": "nvidia-l4",
    "t4": "nvidia-tesla-t4", "v100": "nvidia-tesla-v100", "p100": "nvidia-tesla-p100", "b200": "nvidia-b200",
}
_GPU_RESOURCE = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu"}
# Provisioners of the StorageClasses stackgen creates where the cloud has none by that name.
_STORAGE_CLASSES: t.Mapping[tuple[str, str], tuple[str, t.Mapping[str, str]]] = {
    ("aws", "gp3"): ("ebs.csi.aws.com", {"type": "gp3", "fsType": "ext4"}),
    ("gcp", "pd-balanced"): ("pd.csi.storage.gke.io", {"type": "pd-balanced"}),
}


def own_objects(stack: Stack, plan: ClusterPlan) -> dict[str, Object]:
    """File name (inside clusters/<cluster>/own/) -> object."""
    cluster = plan.cluster
    mesh = "istio" in plan.component_names
    objects: dict[str, Object] = {}
    for namespace in plan.namespaces:
        objects[f"namespace-{namespace}.yaml"] = _namespace(namespace, mesh)
        objects[f"serviceaccount-{namespace}.yaml"] = _service_account(cluster, namespace)
    volume_datasets = set()
    for job in plan.training_jobs:
        dataset = stack.dataset(job.dataset)
        claim = _claim_name(dataset.uri)
        if claim:
            volume_datasets.add(dataset.name)
            objects[f"pvc-{job.namespace}-{claim}.yaml"] = _claim(claim, job.namespace, cluster, dataset.size)
        objects[f"trainjob-{job.name}.yaml"] = _train_job(job, dataset.uri, claim, cluster, stack.registry_mirror)
    if volume_datasets and (cluster.cloud, cluster.storage_class) in _STORAGE_CLASSES:
        objects[f"storageclass-{cluster.storage_class}.yaml"] = _storage_class(cluster)
    for model in plan.models:
        objects[f"inferenceservice-{model.name}.yaml"] = _inference_service(model, cluster)
    for secret in plan.secrets:
        objects.update(stores.objects(secret, cluster, MANAGED_BY))
    for credential in plan.credentials:
        objects.update(stores.objects(credential, cluster, MANAGED_BY, catalog.rendered_secret_name(credential.namespace, credential.name)))
        # Upstream creates the namespace; the store's workload identity needs the account in it.
        if credential.auth is None and STORE_CLOUD[credential.store] == cluster.cloud:
            objects[f"serviceaccount-{credential.namespace}.yaml"] = _service_account(cluster, credential.namespace)
    return objects


def _metadata(name: str, namespace: str | None = None, **extra: t.Any) -> Object:
    metadata: Object = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = dict(MANAGED_BY) | extra.pop("labels", {})
    metadata.update(extra)
    return metadata


def _namespace(name: str, mesh: bool) -> Object:
    # Where the cluster runs Istio, workload pods join the mesh, as in Kubeflow profiles.
    labels = {"istio-injection": "enabled"} if mesh else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _metadata(name, labels=labels)}


def _service_account(cluster: Cluster, namespace: str) -> Object:
    annotations: dict[str, str] = {}
    labels: dict[str, str] = {}
    identity = cluster.identity
    if cluster.cloud == "aws" and identity.aws_role_arn:
        annotations["eks.amazonaws.com/role-arn"] = identity.aws_role_arn
    if cluster.cloud == "gcp" and identity.gcp_service_account:
        annotations["iam.gke.io/gcp-service-account"] = identity.gcp_service_account
    if cluster.cloud == "azure" and identity.azure_client_id:
        annotations["azure.workload.identity/client-id"] = identity.azure_client_id
        labels["azure.workload.identity/use"] = "true"
    if cluster.s3_endpoint:
        # KServe's storage initializer reads an S3-compatible endpoint from its service account.
        scheme, _, host = cluster.s3_endpoint.partition("://")
        annotations["serving.kserve.io/s3-endpoint"] = host.rstrip("/")
        annotations["serving.kserve.io/s3-usehttps"] = "1" if scheme == "https" else "0"
    extra: dict[str, t.Any] = {"labels": labels}
    if annotations:
        extra["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(WORKLOAD_SERVICE_ACCOUNT, namespace, **extra)}


def _pod_labels(cluster: Cluster) -> dict[str, str]:
    # Azure's webhook injects the federated token only into pods that ask for it.
    if cluster.cloud == "azure" and cluster.identity.azure_client_id:
        return {"azure.workload.identity/use": "true"}
    return {}


def _claim_name(uri: str) -> str | None:
    return uri.removeprefix("pvc://").split("/", 1)[0] if uri.startswith("pvc://") else None


def _claim(name: str, namespace: str, cluster: Cluster, size: str | None) -> Object:
    assert size is not None, "place refuses volume datasets without a size"
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata(name, namespace),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": cluster.storage_class,
            "resources": {"requests": {"storage": size}},
        },
    }


def _storage_class(cluster: Cluster) -> Object:
    provisioner, parameters = _STORAGE_CLASSES[(cluster.cloud, cluster.storage_class)]
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": _metadata(cluster.storage_class),
        "provisioner": provisioner,
        "parameters": dict(parameters),
        "reclaimPolicy": "Retain",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }


def gpu_scheduling(cluster: Cluster) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Node selector and tolerations that land a GPU pod on this cloud's GPU nodes."""
    gpu = cluster.gpu
    if gpu is None:
        return {}, []
    resource = _GPU_RESOURCE[gpu.vendor]
    toleration = {"key": resource, "operator": "Exists", "effect": "NoSchedule"}
    if cluster.cloud == "gcp" and gpu.vendor == "nvidia":
        return {"cloud.google.com/gke-accelerator": _GKE_ACCELERATORS.get(gpu.type, f"nvidia-{gpu.type}")}, [toleration]
    if cluster.cloud == "aws":
        # Karpenter and EKS-optimized GPU node groups both publish the GPU name label.
        return {"karpenter.k8s.aws/instance-gpu-name": gpu.type}, [toleration]
    if cluster.cloud == "azure":
        # AKS GPU pools are tainted sku=gpu:NoSchedule by convention (AKS docs).
        return {"accelerator": gpu.vendor}, [toleration, {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    # On-prem: the GPU operator's feature discovery labels nodes with the product name.
    product_label = "nvidia.com/gpu.present" if gpu.vendor == "nvidia" else "amd.com/gpu.present"
    return {product_label: "true"}, [toleration]


def _train_job(job: TrainingJob, dataset_uri: str, claim: str | None, cluster: Cluster, registry_mirror: str | None) -> Object:
    trainer: Object = {
        "image": images.mirrored(job.image, registry_mirror) if registry_mirror else job.image,
        "numNodes": job.workers,
        "env": [{"name": "DATASET_URI", "value": dataset_uri}],
    }
    if cluster.s3_endpoint:  # AWS SDKs and s3fs honour it: on-prem object storage, no code change
        trainer["env"].append({"name": "AWS_ENDPOINT_URL", "value": cluster.s3_endpoint})
    if job.gpus_per_worker:
        resource = _GPU_RESOURCE[cluster.gpu.vendor if cluster.gpu else "nvidia"]
        amount = str(job.gpus_per_worker)
        trainer["resourcesPerNode"] = {"requests": {resource: amount}, "limits": {resource: amount}}
    spec: Object = {"runtimeRef": {"name": job.runtime}}
    if catalog.TRAINING_RUNTIMES.get(job.runtime) and not claim:
        spec["initializer"] = {"dataset": {"storageUri": dataset_uri}}
    spec["trainer"] = trainer
    pod_spec: Object = {"serviceAccountName": WORKLOAD_SERVICE_ACCOUNT}
    if job.gpus_per_worker:
        selector, tolerations = gpu_scheduling(cluster)
        if selector:
            pod_spec["nodeSelector"] = selector
        if tolerations:
            pod_spec["tolerations"] = tolerations
    if claim:
        pod_spec["volumes"] = [{"name": "dataset", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}]
        pod_spec["containers"] = [{"name": "node", "volumeMounts": [{"name": "dataset", "mountPath": "/data", "readOnly": True}]}]
    override: Object = {"targetJobs": [{"name": "node"}]}
    if _pod_labels(cluster):
        override["metadata"] = {"labels": _pod_labels(cluster)}
    override["spec"] = pod_spec
    spec["podTemplateOverrides"] = [override]
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": _metadata(job.name, job.namespace),
        "spec": spec,
    }


def _inference_service(model: Model, cluster: Cluster) -> Object:
    annotations: dict[str, str] = {}
    if cluster.is_edge:
        # Edge runs KServe without Knative: plain Deployments behind an ordinary ingress.
        annotations["serving.kserve.io/deploymentMode"] = "Standard"
    predictor: Object = {
        "serviceAccountName": WORKLOAD_SERVICE_ACCOUNT,
        "minReplicas": model.replicas,
        "model": {
            "modelFormat": {"name": model.format},
            "storageUri": model.storage_uri,
            "resources": _serving_resources(cluster),
        },
    }
    if model.replicas:
        predictor["maxReplicas"] = max(model.replicas, 1) * (1 if cluster.is_edge else 3)
    metadata = _metadata(model.name, model.namespace, labels=_pod_labels(cluster))
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {"predictor": predictor},
    }


def _serving_resources(cluster: Cluster) -> Object:
    if cluster.is_edge:  # small boxes in shops and plants
        return {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    return {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
