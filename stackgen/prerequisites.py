"""What must exist on a cluster before its first sync that stackgen does not deliver.

The first-sync model (firstsync.py) proves the order of what stackgen delivers; this is the
rest: what the cloud, the engine or the operator provide. `stackgen explain cluster/<name>`
prints it and docs/first-sync.md explains each item. Pure: model and placement in, lines out.
"""

from __future__ import annotations

from stackgen import catalog
from stackgen.compile import signon, workloads
from stackgen.model import STORE_CLOUD, Stack
from stackgen.place import ClusterPlan

# StorageClasses that attach a volume to one node only (block storage): a ReadWriteMany claim
# on them stays Pending (EBS, Persistent Disk, Azure Disk, local-path).
BLOCK_STORAGE_CLASSES = frozenset({"gp2", "gp3", "io1", "io2", "pd-balanced", "pd-standard", "pd-ssd", "standard-rwo",
                                   "premium-rwo", "standard", "managed-csi", "managed-csi-premium", "managed", "managed-premium",
                                   "default", "local-path"})


def prerequisites(stack: Stack, plan: ClusterPlan) -> tuple[str, ...]:
    """One line per thing the cluster must already have, in a stable order."""
    cluster = plan.cluster
    lines: list[str] = []
    if stack.gitops.engine == "argocd":
        lines.append("Argo CD with the argoproj.io/Application health check in argocd-cm, or sync waves order nothing "
                     "(docs/first-sync.md gives the snippet)")
    else:
        lines.append("Flux's controllers (flux install): Kustomizations wait on their dependsOn with `wait: true`")
    # Upstream's databases and object store claim volumes of the default StorageClass.
    lines.append("a default StorageClass (Kubeflow's MySQL and object-store claims name none)")
    volume_claims = any(stack.dataset(job.dataset).uri.startswith("pvc://") for job in plan.training_jobs)
    if cluster.cloud == "aws":
        lines.append("the Amazon EBS CSI driver (an EKS add-on): the gp3 StorageClass stackgen writes provisions through it")
        lines.append("no load balancer controller: the gateway is an internal NLB of the in-tree cloud provider "
                     "(EKS Auto Mode clusters handle Services themselves and need `loadBalancerClass`)")
    if cluster.cloud == "gcp" and cluster.gpu is not None:
        lines.append("GPU quota for the node pool's accelerator in the project and region, and `requests.nvidia.com/gpu` "
                     "in any ResourceQuota of the workload namespaces (GKE admits GPU pods only within it)")
    if cluster.gpu is not None:
        if cluster.gpu.vendor == "amd":
            lines.append("a DeviceConfig for the AMD GPU Operator (the operator runs no device plugin without one), "
                         "selecting nodes labelled feature.node.kubernetes.io/amd-gpu=true")
        elif cluster.cloud in ("aws", "azure", "gcp"):
            lines.append("GPU nodes from the cloud's GPU node image: its NVIDIA driver is used (the operator's is off)")
    if volume_claims:
        multi = sorted({f"{job.namespace}/{workloads.claim_name(stack.dataset(job.dataset).uri)}" for job in plan.training_jobs
                        if job.workers > 1 and stack.dataset(job.dataset).uri.startswith("pvc://")})
        if multi:
            note = " (it is block storage: pick a file-system class)" if cluster.storage_class in BLOCK_STORAGE_CLASSES else ""
            lines.append(f"StorageClass {cluster.storage_class} serving ReadWriteMany for {', '.join(multi)}{note}")
    identity = cluster.identity
    namespaces = sorted(set(plan.namespaces) | {s.namespace for s in (*plan.credentials, *plan.secrets, *plan.sign_on_secrets)
                                                 if s.auth is None and STORE_CLOUD[s.store] == cluster.cloud})
    if namespaces:
        accounts = ", ".join(f"{n}/{workloads.WORKLOAD_SERVICE_ACCOUNT}" for n in namespaces)
        if cluster.cloud == "aws" and identity.aws_role_arn:
            lines.append(f"IAM role {identity.aws_role_arn} trusting the cluster's OIDC provider for {accounts}")
        if cluster.cloud == "gcp" and identity.gcp_service_account:
            lines.append(f"roles/iam.workloadIdentityUser on {identity.gcp_service_account} for {accounts}")
        if cluster.cloud == "azure" and identity.azure_client_id:
            lines.append(f"a federated identity credential on managed identity {identity.azure_client_id} for {accounts}")
    for tenant in plan.tenants:  # the profile controller annotates default-editor; the cloud must trust it
        own = tenant.identity_on(cluster)
        account = f"{tenant.name}/{workloads.PROFILE_EDITOR}"
        if cluster.cloud == "aws" and own.aws_role_arn:
            lines.append(f"IAM role {own.aws_role_arn} trusting the cluster's OIDC provider for {account} "
                         "(the Profile's plugin only annotates: annotateOnly)")
        if cluster.cloud == "gcp" and own.gcp_service_account:
            lines.append(f"roles/iam.workloadIdentityUser on {own.gcp_service_account} for {account}, or the right to grant it "
                         "for the profile controller's own Google identity (its WorkloadIdentity plugin grants it)")
        if cluster.cloud == "azure" and own.azure_client_id:
            lines.append(f"a federated identity credential on managed identity {own.azure_client_id} for {account}")
    # A SecretStore is namespaced: the credentials it names must be in its namespace, which the
    # unit creates in the same sync, so create the namespace with them.
    stores_auth = sorted({(s.store, s.auth.name, s.namespace) for s in (*plan.secrets, *plan.credentials, *plan.sign_on_secrets) if s.auth})
    for store, name in sorted({(store, name) for store, name, _ in stores_auth}):
        where = ", ".join(f"{namespace}/{name}" for s, n, namespace in stores_auth if (s, n) == (store, name))
        lines.append(f"the Secrets with the credentials to reach {store} (you create them, namespaces too): {where}")
    remote = sorted({f"{s.store} {s.key}" for s in (*plan.secrets, *plan.credentials, *plan.sign_on_secrets)})
    if remote:
        lines.append(f"the remote secrets, with fresh values: {'; '.join(remote)}")
    # What a foundation the cluster provides must offer, since stackgen's objects assume upstream's.
    if "istio" in cluster.provides:
        # Kubeflow's Gateway selects `istio: ingressgateway`, its policies `app: istio-ingressgateway`
        # in istio-system, and oauth2-proxy's CUSTOM policy names the mesh extension provider
        # `oauth2-proxy` (common/istio/istio-install/overlays/oauth2-proxy). GKE's managed Cloud
        # Service Mesh installs no gateway at all: one is deployed by the user, labelled as they choose.
        lines.append("Istio (provided): an ingress gateway in istio-system labelled istio=ingressgateway and app=istio-ingressgateway, "
                     "and meshConfig.extensionProviders `oauth2-proxy` as upstream's istio-install/overlays/oauth2-proxy sets it")
    if "cert-manager" in cluster.provides:
        lines.append("cert-manager (provided): cert-manager.io/v1 with its webhook running; stackgen writes the ClusterIssuer "
                     "kubeflow-self-signing-issuer")
    if "external-secrets" in cluster.provides:
        lines.append("External Secrets Operator (provided), serving external-secrets.io/v1 SecretStores in every namespace")
    if "gpu-operator" in cluster.provides and cluster.gpu is not None:
        lines.append(f"the {cluster.gpu.vendor} GPU operator (provided): device plugin and node labels on the GPU nodes")
    if cluster.database is not None:
        databases = sorted({name for component, names in catalog.EXTERNAL_DATABASES.items() if component in plan.component_names
                            for name in names})
        lines.append(f"MySQL at {cluster.database.host}:{cluster.database.port} reachable from the cluster's pods, its login "
                     f"(remote JSON username/password) allowed to create or use the databases {', '.join(databases)}")
    if cluster.object_store is not None and "pipelines" in plan.component_names:
        lines.append(f"bucket {cluster.object_store.bucket} at the S3 endpoint its keys (remote JSON AWS_ACCESS_KEY_ID / "
                     "AWS_SECRET_ACCESS_KEY) may read and write, under v2/artifacts and private-artifacts/<namespace>/")
    if stack.sign_on is not None and "auth" in plan.component_names and cluster.ingress_host:
        callback = signon.oauth2_proxy_redirect(cluster) if stack.sign_on.external_issuer is not None else signon.callback(cluster)
        lines.append(f"each sign-on provider's client (or SAML app) registered with the callback {callback}")
    lines.extend(_tls_prerequisites(plan))
    if cluster.s3_endpoint and not cluster.s3_credentials:
        lines.append(f"anonymous read access at {cluster.s3_endpoint}: no `s3Credentials` names its keys")
    return tuple(lines)


def _tls_prerequisites(plan: ClusterPlan) -> list[str]:
    cluster = plan.cluster
    tls = cluster.tls
    if tls is None:
        return []
    if tls.cluster_issuer:
        return [f"ClusterIssuer {tls.cluster_issuer}, Ready, able to issue for {cluster.ingress_host}"]
    identity = cluster.identity
    who = "cert-manager/cert-manager"
    lines = [f"DNS for {cluster.ingress_host} pointing at the gateway's load balancer, in a zone the ACME solver may write TXT records to"]
    if "cert-manager" in cluster.provides:
        lines.append("the provided cert-manager's service account (its namespace and name, if not cert-manager/cert-manager, "
                     "in the trust below) annotated with the cluster's identity: stackgen annotates no account it does not deploy (SG423)")
    if cluster.cloud == "aws" and identity.aws_role_arn:
        lines.append(f"IAM role {identity.aws_role_arn} trusting the cluster's OIDC provider for {who}, with "
                     "route53:ChangeResourceRecordSets, ListResourceRecordSets and GetChange (cert-manager docs, Route53)")
    if cluster.cloud == "gcp" and identity.gcp_service_account:
        lines.append(f"roles/iam.workloadIdentityUser on {identity.gcp_service_account} for {who}, and roles/dns.admin "
                     "in the zone's project (cert-manager docs, Google CloudDNS)")
    if cluster.cloud == "azure" and identity.azure_client_id:
        lines.append(f"a federated identity credential on managed identity {identity.azure_client_id} for {who}, with "
                     "DNS Zone Contributor on the zone (cert-manager docs, AzureDNS)")
    return lines
