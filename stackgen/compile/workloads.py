"""The objects stackgen authors for one cluster's own folder: workloads and their plumbing.

Training jobs become Kubeflow Trainer `TrainJob`s, models KServe `InferenceService`s; around
them the namespaces they use, a service account carrying the cluster's workload identity (so
pods read buckets without keys), the PVCs of volume datasets, and GPU scheduling the way each
cloud labels and taints its GPU nodes. Pure: model in, plain objects out.
"""

from __future__ import annotations

import re
import typing as t

from stackgen import catalog
from stackgen.compile import images, stores, tls
from stackgen.model import STORE_CLOUD, Cluster, Identity, Model, Secret, Stack, Tenant, TrainingJob

if t.TYPE_CHECKING:  # place imports compile.stores, so a runtime import here would be a cycle
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
        objects[f"serviceaccount-{namespace}.yaml"] = _service_account(cluster, namespace, reads_storage=True)
        if mesh:
            objects[f"authorizationpolicy-{namespace}.yaml"] = _allow_in_mesh(namespace)
    objects.update(tenant_objects(plan, mesh))
    volume_datasets = set()
    # A claim several nodes mount at once must be ReadWriteMany: ReadWriteOnce attaches the
    # volume to one node, and the other workers stay ContainerCreating (Multi-Attach error).
    shared = {(j.namespace, claim_name(stack.dataset(j.dataset).uri)) for j in plan.training_jobs if j.workers > 1}
    for job in plan.training_jobs:
        dataset = stack.dataset(job.dataset)
        claim = claim_name(dataset.uri)
        if claim:
            volume_datasets.add(dataset.name)
            objects[f"pvc-{job.namespace}-{claim}.yaml"] = _claim(claim, job.namespace, cluster, dataset.size, (job.namespace, claim) in shared)
        objects[f"trainjob-{job.name}.yaml"] = _train_job(job, dataset.uri, claim, cluster, stack.registry_mirror,
                                                          account_in(plan, job.namespace), plan.identity_in(job.namespace))
    if volume_datasets and (cluster.cloud, cluster.storage_class) in _STORAGE_CLASSES:
        objects[f"storageclass-{cluster.storage_class}.yaml"] = _storage_class(cluster)
    for model in plan.models:
        objects[f"inferenceservice-{model.name}.yaml"] = _inference_service(model, cluster, account_in(plan, model.namespace),
                                                                             plan.identity_in(model.namespace))
    for secret in plan.secrets:
        objects.update(stores.objects(secret, cluster, MANAGED_BY, annotations=_s3_annotations(cluster) if secret.name == cluster.s3_credentials else None))
    if cluster.tls is not None:  # place refuses it where no gateway runs (SG276)
        objects.update(tls.objects(cluster, MANAGED_BY))
    return objects


def credential_objects(component: str, cluster: Cluster, credentials: t.Sequence[Secret],
                       accounts_elsewhere: t.Collection[str] = (), unit_secrets: t.Sequence[Secret] = ()) -> dict[str, Object]:
    """File name -> object: what replaces `component`'s upstream default credentials, inside its unit.

    They travel with the unit rather than the cluster's own folder, which syncs last (Argo CD's
    last wave, Flux's `own` after every unit): the unit's pods wait for these Secrets to turn
    healthy, so a later step would never start. The ExternalSecret targets the name upstream
    declares: once the generated Secret is deleted, kustomize no longer rewrites its users'
    references to the hashed name (oauth2-proxy's Deployment asks for `oauth2-proxy`).
    The workload-identity service account of a namespace comes with the first unit (in
    dependency order) that needs it there: `accounts_elsewhere` names those already delivered.
    `unit_secrets` are other secrets the unit's pods read (spec.signOn's, for auth).
    """
    shipped = {(c.namespace, c.name) for c in catalog.default_credentials(component)} | {(s.namespace, s.name) for s in unit_secrets}
    objects: dict[str, Object] = {}
    for credential in (*credentials, *unit_secrets):
        if (credential.namespace, credential.name) not in shipped:
            continue
        objects.update(stores.objects(credential, cluster, MANAGED_BY))
        # Upstream creates the namespace; the store's workload identity needs the account in it.
        if credential.auth is None and STORE_CLOUD[credential.store] == cluster.cloud and credential.namespace not in accounts_elsewhere:
            objects[f"serviceaccount-{credential.namespace}.yaml"] = _service_account(cluster, credential.namespace, reads_storage=False)
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


def _allow_in_mesh(namespace: str) -> Object:
    """The ALLOW policy a workload namespace needs under Kubeflow's `istio-system/global-deny-all`
    (an AuthorizationPolicy with an empty spec in the root namespace, which denies every request
    that no ALLOW policy admits).

    Admitted: pods of the same namespace (torch rendezvous between a job's workers, a
    transformer calling its predictor); the gateways in istio-system and Knative's activator in
    knative-serving, which forward requests to predictors; and the health and metrics paths that
    Knative's autoscaler and probes call without a mesh identity (kserve/kserve#1558,
    kubeflow/kubeflow#5965: without these, predictors answer "RBAC: access denied").
    """
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": _metadata("stackgen-allow-workloads", namespace),
        "spec": {
            "action": "ALLOW",
            "rules": [
                {"from": [{"source": {"namespaces": [namespace]}}]},
                {"from": [{"source": {"namespaces": ["istio-system", "knative-serving"]}}]},
                {"to": [{"operation": {"paths": ["/healthz", "/metrics", "/wait-for-drain"]}}]},
            ],
        },
    }


def _service_account(cluster: Cluster, namespace: str, reads_storage: bool, name: str = WORKLOAD_SERVICE_ACCOUNT,
                     identity: Identity | None = None) -> Object:
    annotations: dict[str, str] = {}
    labels: dict[str, str] = {}
    identity = identity or cluster.identity
    if cluster.cloud == "aws" and identity.aws_role_arn:
        annotations["eks.amazonaws.com/role-arn"] = identity.aws_role_arn
    if cluster.cloud == "gcp" and identity.gcp_service_account:
        annotations["iam.gke.io/gcp-service-account"] = identity.gcp_service_account
    if cluster.cloud == "azure" and identity.azure_client_id:
        annotations["azure.workload.identity/client-id"] = identity.azure_client_id
        labels["azure.workload.identity/use"] = "true"
    extra: dict[str, t.Any] = {"labels": labels}
    if annotations:
        extra["annotations"] = annotations
    account: Object = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(name, namespace, **extra)}
    if reads_storage and cluster.s3_endpoint and cluster.s3_credentials:
        # Only workload namespaces get the keys (a component's account reads its store, not S3).
        # KServe's storage initializer takes S3 keys, endpoint included, from the Secrets listed
        # on the predictor's service account (KServe docs, "Deploy InferenceService with a saved
        # model on S3"); annotations on the account itself are read only with an IRSA role.
        account["secrets"] = [{"name": cluster.s3_credentials}]
    return account


def _s3_annotations(cluster: Cluster) -> dict[str, str]:
    """The annotations KServe reads on an S3 credentials Secret: where the endpoint is, and TLS."""
    assert cluster.s3_endpoint is not None
    scheme, _, host = cluster.s3_endpoint.partition("://")
    return {"serving.kserve.io/s3-endpoint": host.rstrip("/"), "serving.kserve.io/s3-usehttps": "1" if scheme == "https" else "0"}


def _pod_labels(cluster: Cluster, identity: Identity | None = None) -> dict[str, str]:
    # Azure's webhook injects the federated token only into pods that ask for it.
    if cluster.cloud == "azure" and (identity or cluster.identity).azure_client_id:
        return {"azure.workload.identity/use": "true"}
    return {}


def claim_name(uri: str) -> str | None:
    return uri.removeprefix("pvc://").split("/", 1)[0] if uri.startswith("pvc://") else None


def _claim_subpath(uri: str) -> str:
    """`pvc://scans/v2` -> `v2`: the folder of the claim the dataset is (empty: the whole claim)."""
    return uri.removeprefix("pvc://").partition("/")[2].strip("/")


def _claim(name: str, namespace: str, cluster: Cluster, size: str | None, shared: bool = False) -> Object:
    assert size is not None, "place refuses volume datasets without a size"
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata(name, namespace),
        "spec": {
            "accessModes": ["ReadWriteMany" if shared else "ReadWriteOnce"],
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
    # Elsewhere, the labels the GPU operator stackgen installs sets itself, whatever made the node
    # (EKS managed node groups, Auto Mode, Karpenter, AKS pools, bare metal): not a provisioner's
    # own label (`karpenter.k8s.aws/instance-gpu-name` exists on Karpenter nodes only).
    # NVIDIA: the operator labels every node with an NVIDIA PCI device `nvidia.com/gpu.present=true`
    # and GPU Feature Discovery adds `nvidia.com/gpu.product` (a marketing name such as
    # `NVIDIA-A100-SXM4-80GB`, not derivable from `a100`, so not selected on). AMD: the AMD GPU
    # Operator's default NodeFeatureRule labels AMD GPU nodes `feature.node.kubernetes.io/amd-gpu=true`
    # (its DeviceConfig selects nodes by that label); `amd.com/gpu.present` is set by nothing.
    # Sources: NVIDIA k8s-device-plugin docs/gpu-feature-discovery README ("Generated Labels");
    # ROCm/gpu-operator helm chart, amd-gpu-label-nfd-rule.
    label = {"nvidia": "nvidia.com/gpu.present", "amd": "feature.node.kubernetes.io/amd-gpu"}[gpu.vendor]
    tolerations = [toleration]
    if cluster.cloud == "azure":
        # AKS GPU pools are tainted sku=gpu:NoSchedule by convention (AKS docs).
        tolerations.append({"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"})
    return {label: "true"}, tolerations


def _train_job(job: TrainingJob, dataset_uri: str, claim: str | None, cluster: Cluster, registry_mirror: str | None,
               account: str = WORKLOAD_SERVICE_ACCOUNT, identity: Identity | None = None) -> Object:
    trainer: Object = {
        "image": images.mirrored(job.image, registry_mirror) if registry_mirror else job.image,
        "numNodes": job.workers,
        "env": [{"name": "DATASET_URI", "value": dataset_uri}],
    }
    if cluster.s3_endpoint:  # AWS SDKs and s3fs honour it: on-prem object storage, no code change
        trainer["env"].append({"name": "AWS_ENDPOINT_URL", "value": cluster.s3_endpoint})
        if cluster.s3_credentials:  # ... and read the keys from the standard variables
            trainer["env"] += [{"name": key, "valueFrom": {"secretKeyRef": {"name": cluster.s3_credentials, "key": key}}}
                               for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]
    if job.gpus_per_worker:
        resource = _GPU_RESOURCE[cluster.gpu.vendor if cluster.gpu else "nvidia"]
        amount = str(job.gpus_per_worker)
        trainer["resourcesPerNode"] = {"requests": {resource: amount}, "limits": {resource: amount}}
    spec: Object = {"runtimeRef": {"name": job.runtime}}
    if catalog.TRAINING_RUNTIMES.get(job.runtime) and not claim:
        spec["initializer"] = {"dataset": {"storageUri": dataset_uri}}
    spec["trainer"] = trainer
    pod_spec: Object = {"serviceAccountName": account}
    if job.gpus_per_worker:
        selector, tolerations = gpu_scheduling(cluster)
        if selector:
            pod_spec["nodeSelector"] = selector
        if tolerations:
            pod_spec["tolerations"] = tolerations
    if claim:
        pod_spec["volumes"] = [{"name": "dataset", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}]
        mount: Object = {"name": "dataset", "mountPath": "/data", "readOnly": True}
        if _claim_subpath(dataset_uri):
            mount["subPath"] = _claim_subpath(dataset_uri)  # `pvc://scans/v2` reads only scans' v2 folder
        pod_spec["containers"] = [{"name": "node", "volumeMounts": [mount]}]
    jobs = ["launcher", "node"] if job.runtime in catalog.MPI_RUNTIMES else ["node"]
    override: Object = {"targetJobs": [{"name": name} for name in jobs]}
    if _pod_labels(cluster, identity):
        override["metadata"] = {"labels": _pod_labels(cluster, identity)}
    override["spec"] = pod_spec
    spec["podTemplateOverrides"] = [override]
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": _metadata(job.name, job.namespace),
        "spec": spec,
    }


def _inference_service(model: Model, cluster: Cluster, account: str = WORKLOAD_SERVICE_ACCOUNT, identity: Identity | None = None) -> Object:
    annotations: dict[str, str] = {}
    if cluster.is_edge:
        # Edge runs KServe without Knative: plain Deployments behind an ordinary ingress.
        annotations["serving.kserve.io/deploymentMode"] = "Standard"
    resources = _serving_resources(cluster)
    predictor: Object = {
        "serviceAccountName": account,
        "minReplicas": model.replicas,
        "model": {
            "modelFormat": {"name": model.format},
            "storageUri": model.storage_uri,
            "resources": resources,
        },
    }
    if model.gpus and cluster.gpu is not None and not cluster.is_edge:
        # The model asks for GPUs and this cluster has them: request them and land on GPU nodes.
        resource = _GPU_RESOURCE[cluster.gpu.vendor]
        resources["requests"][resource] = resources["limits"][resource] = str(model.gpus)
        selector, tolerations = gpu_scheduling(cluster)
        predictor["nodeSelector"] = selector
        predictor["tolerations"] = tolerations
    if model.replicas:
        predictor["maxReplicas"] = max(model.replicas, 1) * (1 if cluster.is_edge else 3)
    metadata = _metadata(model.name, model.namespace, labels=_pod_labels(cluster, identity))
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


# --- tenants: Kubeflow Profiles and what the central dashboard would add to them ----------

# The account the profile controller creates in every Profile namespace with ClusterRole
# kubeflow-edit, and the one its identity plugins annotate (DEFAULT_EDITOR in kubeflow/dashboard
# components/profile-controller/controllers/profile_controller.go; plugin_iam.go and
# plugin_workload_identity.go patch only it). Notebooks and pipeline runs in the namespace run
# as it, so stackgen's workloads there do too: one identity per tenant.
PROFILE_EDITOR = "default-editor"
# The user-id header and prefix the profile controller and KFAM are started with in
# kubeflow/manifests (applications/profiles/upstream/manager/kustomization.yaml:
# USERID_HEADER="kubeflow-userid", USERID_PREFIX empty), and the principals KFAM admits it from.
USERID_HEADER = "kubeflow-userid"
_KFAM_PRINCIPALS = ("cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account", "cluster.local/ns/kubeflow/sa/ml-pipeline-ui")
_KUBEFLOW_ROLES = {"edit": "kubeflow-edit", "view": "kubeflow-view"}


def account_in(plan: ClusterPlan, namespace: str) -> str:
    """The service account workloads in `namespace` run as: a tenant's `default-editor`, else stackgen's."""
    return PROFILE_EDITOR if plan.tenant_of(namespace) else WORKLOAD_SERVICE_ACCOUNT


def profile(tenant: Tenant, cluster: Cluster) -> Object:
    """The tenant's Profile (kubeflow.org/v1, the CRD's storage version), with the profile
    controller's identity plugin for the cluster's cloud.

    AWS: `AwsIamForServiceAccount` annotates default-editor with `eks.amazonaws.com/role-arn`;
    `annotateOnly: true` keeps the controller from rewriting the role's trust policy itself (it
    would need IAM rights it has no identity for): the role must trust
    system:serviceaccount:<tenant>:default-editor (plugin_iam.go, `AnnotateOnly`). GCP:
    `WorkloadIdentity` annotates it with `iam.gke.io/gcp-service-account` and then grants
    roles/iam.workloadIdentityUser on the Google account through the IAM API
    (plugin_workload_identity.go); without that right the annotation still lands but the
    controller retries the grant. Azure: the controller has no plugin (GetPluginSpec knows only
    those two kinds and skips others), so `tenant_objects` annotates default-editor itself.
    """
    spec: Object = {"owner": {"kind": "User", "name": tenant.owner}}
    if tenant.resource_quota:
        spec["resourceQuotaSpec"] = {"hard": dict(tenant.resource_quota)}
    identity = tenant.identity_on(cluster)
    if cluster.cloud == "aws" and identity.aws_role_arn:
        spec["plugins"] = [{"kind": "AwsIamForServiceAccount", "spec": {"awsIamRole": identity.aws_role_arn, "annotateOnly": True}}]
    elif cluster.cloud == "gcp" and identity.gcp_service_account:
        spec["plugins"] = [{"kind": "WorkloadIdentity", "spec": {"gcpServiceAccount": identity.gcp_service_account}}]
    return {"apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": _metadata(tenant.name), "spec": spec}


def profile_objects(tenants: t.Sequence[Tenant], cluster: Cluster) -> dict[str, Object]:
    """File name -> Profile, for the `profiles-<cluster>` unit: a Profile arrives with its CRD and
    controller, so its namespace exists before any later step puts objects in it."""
    return {f"profile-{tenant.name}.yaml": profile(tenant, cluster) for tenant in tenants}


def binding_name(user: str, role: str) -> str:
    """KFAM's name for a contributor's RoleBinding and AuthorizationPolicy: user kind, user
    name, role kind and role name joined by `-`, lower-cased, every run of characters other
    than letters and digits made one `-` (kfam/bindings.go, getBindingName)."""
    return re.sub(r"[^a-z0-9]+", "-", f"user-{user}-clusterrole-{role}".lower())


def tenant_objects(plan: ClusterPlan, mesh: bool) -> dict[str, Object]:
    """Objects in tenants' namespaces, synced with the cluster's own folder (after the Profile):
    each contributor as the dashboard's "Manage contributors" records them through KFAM, and
    default-editor where the profile controller cannot give it what the workloads need."""
    cluster = plan.cluster
    objects: dict[str, Object] = {}
    hosts = {j.namespace for j in plan.training_jobs} | {m.namespace for m in plan.models}
    # Namespaces with a SecretStore that reads by the cluster's workload identity (stores.py).
    stores = {s.namespace for s in plan.secrets if s.auth is None and STORE_CLOUD[s.store] == cluster.cloud}
    for tenant in plan.tenants:
        namespace = tenant.name
        for contributor in tenant.contributors:
            name = binding_name(contributor.user, contributor.role)
            objects[f"contributor-{namespace}-{name}.yaml"] = _contributor_binding(namespace, name, contributor.user, contributor.role)
            if mesh:  # the policy's kind comes with Istio; without a mesh nothing filters by header
                objects[f"contributor-policy-{namespace}-{name}.yaml"] = _contributor_policy(namespace, name, contributor.user, contributor.role)
        identity = tenant.identity_on(cluster)
        azure = cluster.cloud == "azure" and identity.azure_client_id is not None
        keys = namespace in hosts and cluster.s3_endpoint is not None and cluster.s3_credentials is not None
        if azure or keys:
            # Applied over the account the controller made (it creates default-editor only when
            # missing and never rewrites its metadata), adding what no plugin sets: Azure's
            # client-id (AKS workload identity reads it from the pod's account), or the S3 keys
            # Secret KServe's storage initializer reads from the account's `secrets`.
            objects[f"defaulteditor-{namespace}.yaml"] = _service_account(cluster, namespace, reads_storage=keys, name=PROFILE_EDITOR,
                                                                            identity=identity)
        if azure and "poddefaults" in plan.component_names:
            objects[f"poddefault-{namespace}-azure-workload-identity.yaml"] = _azure_pod_default(namespace)
        if namespace in hosts and _compute_quota(tenant):
            objects[f"limitrange-{namespace}.yaml"] = _default_requests(namespace, tenant)
        if namespace in hosts and mesh:
            # The profile's own policy admits the gateway only with a user header: Knative's
            # activator and the cluster gateways forwarding to a predictor need this one too.
            objects[f"authorizationpolicy-{namespace}.yaml"] = _allow_in_mesh(namespace)
        if namespace in stores:
            # The SecretStore reads with the platform's identity, as in every namespace (stores.py).
            objects[f"serviceaccount-{namespace}.yaml"] = _service_account(cluster, namespace, reads_storage=False)
    return objects


AZURE_POD_DEFAULT = "azure-workload-identity"


def _azure_pod_default(namespace: str) -> Object:
    """A PodDefault the notebook launcher offers ("Configurations") that labels a notebook's pod
    `azure.workload.identity/use: "true"`: AKS's webhook injects the federated token only into
    pods with that label, and the notebook controller sets none (its pods run as default-editor,
    which carries the client id). Kubeflow's admission webhook
    (`admission-webhook-mutating-webhook-configuration`) is called before Azure's
    (`azure-wi-webhook-mutating-webhook-configuration`): the API server calls mutating webhook
    configurations sorted by name, and Azure's selects pods by that label (its objectSelector)."""
    return {
        "apiVersion": "kubeflow.org/v1alpha1",
        "kind": "PodDefault",
        "metadata": _metadata(AZURE_POD_DEFAULT, namespace),
        "spec": {
            "desc": "Azure workload identity (the namespace's managed identity)",
            "selector": {"matchLabels": {AZURE_POD_DEFAULT: "true"}},
            "labels": {"azure.workload.identity/use": "true"},
        },
    }


_COMPUTE = ("cpu", "memory")


def _compute_quota(tenant: Tenant) -> set[str]:
    """Which of requests / limits the tenant's quota constrains for CPU or memory (`cpu` is `requests.cpu`)."""
    kinds = set()
    for resource, _ in tenant.resource_quota:
        if resource in _COMPUTE or resource in (f"requests.{r}" for r in _COMPUTE):
            kinds.add("requests")
        if resource in (f"limits.{r}" for r in _COMPUTE):
            kinds.add("limits")
    return kinds


def _default_requests(namespace: str, tenant: Tenant) -> Object:
    """Defaults for containers that name no CPU or memory. A ResourceQuota on requests.cpu (or
    limits.cpu, ...) makes the API server refuse every pod with a container that does not set it
    ("must specify requests.cpu": Kubernetes docs, "Resource Quotas", compute resource quota),
    and Trainer's node pods ask only for GPUs: a LimitRange fills the rest in (Kubernetes docs,
    "Configure Default CPU Requests and Limits for a Namespace"). Small requests, so the quota
    counts what really runs; limits only where the quota caps limits, and then generous."""
    limit: Object = {"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "256Mi"}}
    if "limits" in _compute_quota(tenant):
        limit["default"] = {"cpu": "4", "memory": "16Gi"}
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": _metadata("stackgen-defaults", namespace), "spec": {"limits": [limit]}}


def _contributor_binding(namespace: str, name: str, user: str, role: str) -> Object:
    # KFAM's RoleBinding: annotations `user` and `role` (how KFAM lists contributors for the
    # dashboard), one User subject, roleRef the kubeflow-<role> ClusterRole (kfam/bindings.go, Create).
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(name, namespace, annotations={"role": role, "user": user}),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": _KUBEFLOW_ROLES[role]},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }


def _contributor_policy(namespace: str, name: str, user: str, role: str) -> Object:
    # KFAM's AuthorizationPolicy of the same name: requests carrying the user's id header, from
    # the ingress gateway or the Pipelines UI (kfam/bindings.go, getAuthorizationPolicy).
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": _metadata(name, namespace, annotations={"role": role, "user": user}),
        "spec": {
            "rules": [{
                "from": [{"source": {"principals": list(_KFAM_PRINCIPALS)}}],
                "when": [{"key": f"request.headers[{USERID_HEADER}]", "values": [user]}],
            }],
        },
    }
