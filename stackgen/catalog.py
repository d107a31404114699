"""catalog: DESIGN.md's component table as data, per kubeflow/manifests release.

Two releases are supported, oldest first: v1.11.0 and 26.03. They ship the same components with
the same needs; only some upstream paths moved (v1.11.0's README and both `example/`
kustomizations): Pipelines was `applications/pipeline/upstream/env/cert-manager/
platform-agnostic-multi-user`, cert-manager was `common/cert-manager/base` plus its
`kubeflow-issuer/base`. v1.11.0's example also lists `common/networkpolicies/base` and the PSS
baseline Component, which 26.03 dropped: no component here uses them, at either release.

Each component lists its real upstream paths and what it needs; `resolve` closes a request over
those needs and orders the result so that what a component needs always comes before it.
Per-cloud and per-role differences are either other upstream paths (GKE's Istio, EKS's
oauth2-proxy) or kustomize Components under `overlays/components/<layer>/` that only patch.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing as t
from dataclasses import dataclass, field

KUBEFLOW_MANIFESTS = "https://github.com/kubeflow/manifests"
# Oldest first: a rollout wave never runs a newer release than the waves before it.
SUPPORTED_RELEASES = ("v1.11.0", "26.03")
DEFAULT_RELEASE = "26.03"

# Edge clusters are small and run no mesh: only core KServe and what it cannot run without.
EDGE_COMPONENTS = frozenset({"kserve", "cert-manager", "kubeflow-namespace"})


@dataclass(frozen=True)
class Patch:
    """A patch a layer applies inside units; `target` always selects, so it never adds objects."""

    file: str
    target: t.Mapping[str, str]
    body: t.Mapping[str, t.Any]


@dataclass(frozen=True)
class Component:
    name: str
    paths: tuple[str, ...]
    needs: tuple[str, ...] = ()
    # Where a cloud or the edge role swaps upstream paths for others.
    cloud_paths: t.Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    edge_paths: tuple[str, ...] | None = None
    edge_needs: tuple[str, ...] | None = None
    # Layers (cloud names or roles) whose Component patches this one's resources.
    layers: frozenset[str] = frozenset()
    # Upstream renders some paths without a namespace; stackgen sets it in the unit.
    namespace: str | None = None
    # Where the cluster already runs this foundation (`provides`): the upstream paths still
    # deployed on top of it (Kubeflow's own objects, not the foundation itself); None: not a foundation.
    provided_paths: tuple[str, ...] | None = None


_ISTIO_PATHS = (
    "common/istio/istio-crds/base",
    "common/istio/istio-namespace/base",
    "common/istio/istio-install/overlays/oauth2-proxy",
    "common/istio/cluster-local-gateway/base",
    "common/istio/kubeflow-istio-resources/base",
)
_AUTH_PATHS = ("common/oauth2-proxy/overlays/m2m-dex-only", "common/dex/overlays/oauth2-proxy")
# Dex's part of `auth`: left out where oauth2-proxy signs in with an external issuer (spec.signOn).
DEX_PATH = _AUTH_PATHS[1]

# Order matters only as the tie-break of `resolve`: foundations first, then applications.
COMPONENTS: tuple[Component, ...] = (
    Component("kubeflow-namespace", ("common/kubeflow-namespace/base",)),
    # Provided: cert-manager itself is the cluster's; Kubeflow's ClusterIssuer, which every
    # component's Certificate names, is then written by stackgen (PROVIDED_OBJECTS).
    Component("cert-manager", ("common/cert-manager/overlays/kubeflow",), provided_paths=()),
    Component(
        "istio",
        _ISTIO_PATHS,
        needs=("kubeflow-namespace",),
        # Provided: Kubeflow's Gateway, ClusterRoles and deny-all (kubeflow-istio-resources) and its
        # cluster-local gateway stay; Istio's CRDs, namespace and control plane are the cluster's.
        provided_paths=("common/istio/cluster-local-gateway/base", "common/istio/kubeflow-istio-resources/base"),
        cloud_paths={"gcp": tuple(p.replace("overlays/oauth2-proxy", "overlays/gke") for p in _ISTIO_PATHS)},
        layers=frozenset({"aws", "gcp", "azure"}),
    ),
    Component("knative", ("common/knative/knative-serving/overlays/gateways",), needs=("istio",)),
    Component(
        "auth",
        _AUTH_PATHS,
        needs=("istio",),
        cloud_paths={"aws": ("common/oauth2-proxy/overlays/m2m-dex-and-eks", _AUTH_PATHS[1])},
    ),
    # Upstream's example Profile (common/user-namespace/base: `kubeflow-user-example-com` owned by
    # user@example.com) is left out: tenants are declared (spec.tenants), and the example comes
    # back only with components.profiles.exampleProfile (EXAMPLE_PROFILE_PATH).
    Component(
        "profiles",
        ("applications/profiles/pss", "common/kubeflow-roles/base"),
        needs=("kubeflow-namespace",),
    ),
    Component(
        "poddefaults",
        ("applications/admission-webhook/upstream/overlays/cert-manager",),
        needs=("cert-manager", "kubeflow-namespace"),
    ),
    Component("pipelines", ("applications/pipeline/overlays",), needs=("cert-manager", "istio", "auth", "profiles")),
    Component(
        "notebooks",
        (
            "applications/jupyter/notebook-controller/upstream/overlays/kubeflow",
            "applications/jupyter/jupyter-web-app/upstream/overlays/istio",
        ),
        needs=("poddefaults", "istio", "auth", "profiles"),
    ),
    Component(
        "katib",
        ("applications/katib/upstream/installs/katib-with-kubeflow",),
        needs=("cert-manager", "istio", "profiles"),
    ),
    Component("trainer", ("applications/trainer/overlays",), needs=("cert-manager", "kubeflow-namespace")),
    Component(
        "training-operator",
        ("applications/training-operator/upstream/overlays/kubeflow",),
        needs=("kubeflow-namespace",),
    ),
    Component(
        "kserve",
        ("applications/kserve/kserve", "applications/kserve/models-web-app/overlays/kubeflow"),
        needs=("cert-manager", "knative", "istio", "kubeflow-namespace"),
        edge_paths=("applications/kserve/kserve",),
        edge_needs=("cert-manager", "kubeflow-namespace"),
        layers=frozenset({"edge"}),
    ),
    Component(
        "model-registry",
        (
            "applications/model-registry/upstream/overlays/db",
            "applications/model-registry/upstream/options/istio",
            "applications/model-registry/upstream/options/ui/overlays/istio",
        ),
        needs=("istio", "profiles"),
        namespace="kubeflow",
    ),
    Component("spark", ("applications/spark/spark-operator/overlays/kubeflow",), needs=("kubeflow-namespace",)),
    Component(
        "tensorboard",
        (
            "applications/tensorboard/tensorboard-controller/upstream/overlays/kubeflow",
            "applications/tensorboard/tensorboards-web-app/upstream/overlays/istio",
        ),
        needs=("istio", "profiles"),
    ),
    Component(
        "volumes",
        ("applications/volumes-web-app/upstream/overlays/istio", "applications/pvcviewer-controller/upstream/base"),
        needs=("istio", "profiles"),
    ),
    Component(
        "centraldashboard",
        ("applications/centraldashboard/overlays/oauth2-proxy",),
        needs=("istio", "auth", "profiles"),
    ),
)

BY_NAME: t.Mapping[str, Component] = {c.name: c for c in COMPONENTS}
EXAMPLE_PROFILE_PATH = "common/user-namespace/base"  # at both releases

# What moved at older releases: the component as that release ships it (needs are the same).
_MOVED: t.Mapping[str, t.Mapping[str, tuple[str, ...]]] = {
    "v1.11.0": {
        "cert-manager": ("common/cert-manager/base", "common/cert-manager/kubeflow-issuer/base"),
        "pipelines": ("applications/pipeline/upstream/env/cert-manager/platform-agnostic-multi-user",),
    },
}
_BY_RELEASE: t.Mapping[str, t.Mapping[str, Component]] = {
    release: {c.name: dataclasses.replace(c, paths=_MOVED.get(release, {}).get(c.name, c.paths)) for c in COMPONENTS}
    for release in SUPPORTED_RELEASES
}
NAMES: tuple[str, ...] = tuple(c.name for c in COMPONENTS)
_RANK = {name: rank for rank, name in enumerate(NAMES)}


def needs_of(name: str, edge: bool) -> tuple[str, ...]:
    component = BY_NAME[name]
    if edge and component.edge_needs is not None:
        return component.edge_needs
    return component.needs


def component_at(name: str, release: str) -> Component:
    """The component as kubeflow/manifests `release` ships it (a supported release: validate checks)."""
    return _BY_RELEASE[release][name]


def paths_of(name: str, cloud: str, edge: bool, release: str) -> tuple[str, ...]:
    component = component_at(name, release)
    if edge and component.edge_paths is not None:
        return component.edge_paths
    return component.cloud_paths.get(cloud, component.paths)


def closure(requested: t.Iterable[str], edge: bool) -> dict[str, tuple[str, ...]]:
    """Every component `requested` pulls in, mapped to the components that need it directly."""
    # A fleet asks for a handful of distinct component sets, once per cluster (issue 19).
    return dict(_closure(frozenset(requested), edge))


@functools.cache
def _closure(requested: frozenset[str], edge: bool) -> tuple[tuple[str, tuple[str, ...]], ...]:
    needed_by: dict[str, list[str]] = {}
    pending = [(name, "") for name in sorted(requested, key=_RANK.__getitem__)]
    while pending:
        name, parent = pending.pop()
        first_visit = name not in needed_by
        users = needed_by.setdefault(name, [])
        if parent:
            users.append(parent)
        if first_visit:
            pending.extend((need, name) for need in needs_of(name, edge))
    return tuple((name, tuple(sorted(set(users), key=_RANK.__getitem__))) for name, users in needed_by.items())


def dependency_order(names: t.Iterable[str], edge: bool) -> tuple[str, ...]:
    """Topological order of `names` (closed over needs), ties broken by catalog order."""
    return _dependency_order(frozenset(names), edge)


@functools.cache
def _dependency_order(names: frozenset[str], edge: bool) -> tuple[str, ...]:
    remaining = set(names)
    ordered: list[str] = []
    while remaining:
        ready = [n for n in remaining if not (set(needs_of(n, edge)) & remaining)]
        if not ready:  # the catalog is a DAG; a test pins it
            raise ValueError(f"dependency cycle among {sorted(remaining)}")
        chosen = min(ready, key=_RANK.__getitem__)
        ordered.append(chosen)
        remaining.remove(chosen)
    return tuple(ordered)


def depth(name: str, edge: bool) -> int:
    """Longest chain of needs below `name`: 0 for foundations. Orders sync waves."""
    needs = needs_of(name, edge)
    return 0 if not needs else 1 + max(depth(n, edge) for n in needs)


def remote_url(path: str, release: str) -> str:
    return f"{KUBEFLOW_MANIFESTS}//{path}?ref={release}"


# `upstream.mode: vendored`: the release's upstream lives in the output folder, as the mirror
# lays it out (`upstream/<release>/kubeflow-manifests/<path>`), and units name it relatively.
VENDORED_ROOT = "upstream"
UNIT_TO_VENDORED = f"../../{VENDORED_ROOT}/"


def upstream_reference(path: str, release: str, mode: str) -> str:
    """How a unit (`units/<unit>/`) names an upstream path: its pinned remote base, or its vendored copy."""
    return f"{UNIT_TO_VENDORED}{release}/kubeflow-manifests/{path}" if mode == "vendored" else remote_url(path, release)


# --- layers: kustomize Components applied inside units -------------------------------------

_INGRESS_GATEWAY = {"version": "v1", "kind": "Service", "name": "istio-ingressgateway", "namespace": "istio-system"}


def _internal_load_balancer(annotations: t.Mapping[str, str]) -> t.Mapping[str, t.Any]:
    # Kubeflow ships the gateway as ClusterIP; on a cloud it becomes a private load balancer,
    # reachable inside the VPC only: exposing it to the internet stays the operator's choice.
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system", "annotations": dict(annotations)},
        "spec": {"type": "LoadBalancer"},
    }


_EDGE_INGRESS = {
    "enableGatewayApi": False,
    "ingressGateway": "kubeflow/kubeflow-gateway",
    "ingressDomain": "example.com",
    "ingressClassName": "nginx",
    "domainTemplate": "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}",
    "urlScheme": "http",
    "disableIstioVirtualHost": True,
    "disableIngressCreation": False,
    "pathTemplate": "/serving/{{ .Namespace }}/{{ .Name }}",
}

def edge_ingress(domain: str) -> str:
    """KServe's ingress config on edge (JSON, one key per line for review) for `domain`."""
    return json.dumps({**_EDGE_INGRESS, "ingressDomain": domain}, indent=2)


LAYERS: t.Mapping[str, tuple[Patch, ...]] = {
    "aws": (
        Patch(
            "istio-ingressgateway.yaml",
            _INGRESS_GATEWAY,
            # The in-tree AWS cloud provider's NLB, which every EKS cluster runs: `type: external`
            # (with `nlb-target-type` and `scheme`) would hand the Service to the AWS Load Balancer
            # Controller, which nothing installs (and which needs an IAM role per cluster), so the
            # gateway would never get an address. "By default, Kubernetes Service resources of type
            # LoadBalancer get reconciled by the ... in-tree controller"; `nlb` selects its NLB and
            # `aws-load-balancer-internal` its internal scheme (AWS Load Balancer Controller docs,
            # guide/service/nlb; Kubernetes docs, "Service: Other annotations on AWS").
            _internal_load_balancer(
                {
                    "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
                }
            ),
        ),
    ),
    "gcp": (
        Patch(
            "istio-ingressgateway.yaml",
            _INGRESS_GATEWAY,
            _internal_load_balancer({"networking.gke.io/load-balancer-type": "Internal"}),
        ),
    ),
    "azure": (
        Patch(
            "istio-ingressgateway.yaml",
            _INGRESS_GATEWAY,
            _internal_load_balancer(
                {
                    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
                    "service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path": "/healthz/ready",
                }
            ),
        ),
    ),
    "edge": (
        Patch(
            "kserve-inferenceservice-config.yaml",
            {"version": "v1", "kind": "ConfigMap", "name": "inferenceservice-config", "namespace": "kubeflow"},
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "inferenceservice-config", "namespace": "kubeflow"},
                # KServe parses these values as JSON: keep them JSON, one key per line for review.
                "data": {
                    "deploy": json.dumps({"defaultDeploymentMode": "Standard"}, indent=2),
                    "ingress": edge_ingress(str(_EDGE_INGRESS["ingressDomain"])),
                },
            },
        ),
        Patch(
            "kserve-controller-resources.yaml",
            {"group": "apps", "version": "v1", "kind": "Deployment", "name": "kserve-controller-manager", "namespace": "kubeflow"},
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "kserve-controller-manager", "namespace": "kubeflow"},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "manager",
                                    "resources": {
                                        "requests": {"cpu": "50m", "memory": "128Mi"},
                                        "limits": {"cpu": "100m", "memory": "300Mi"},
                                    },
                                }
                            ]
                        }
                    }
                },
            },
        ),
    ),
}


@dataclass(frozen=True)
class DefaultCredential:
    """A Secret upstream ships with a literal, publicly known value."""

    component: str
    namespace: str
    name: str  # as upstream declares (or generates) it: what kustomize selects
    # As it renders: a generated Secret carries a content-hash suffix (how verify knows it). Once
    # stackgen deletes it, kustomize stops rewriting references to that suffix: its users ask for `name`.
    rendered: str
    what: str


# Each is deleted from its unit and materialised instead by an ExternalSecret from a store.
DEFAULT_CREDENTIALS: tuple[DefaultCredential, ...] = (
    DefaultCredential("auth", "auth", "dex-passwords", "dex-passwords", "the password hash of Dex's static user"),
    DefaultCredential("auth", "auth", "dex-oidc-client", "dex-oidc-client", "the OIDC client id and secret Dex shares with oauth2-proxy"),
    DefaultCredential("auth", "oauth2-proxy", "oauth2-proxy", "oauth2-proxy-h675gf55ht", "oauth2-proxy's OIDC client secret and cookie secret"),
    DefaultCredential("katib", "kubeflow", "katib-mysql-secrets", "katib-mysql-secrets", "Katib's MySQL root password"),
    DefaultCredential("pipelines", "kubeflow", "mysql-secret", "mysql-secret", "Pipelines' MySQL user and its empty password"),
    DefaultCredential("pipelines", "kubeflow", "mlpipeline-minio-artifact", "mlpipeline-minio-artifact", "Pipelines' object-store access keys"),
    DefaultCredential("model-registry", "kubeflow", "model-registry-db-secrets", "model-registry-db-secrets", "Model Registry's MySQL root password"),
)

# sha256 of every secret value those Secrets carry at the pin (decoded, not empty; the values
# themselves are never written here or printed), so verify
# knows a default wherever it renders, under any name. Checked against the real render.
DEFAULT_CREDENTIAL_DIGESTS: frozenset[str] = frozenset({
    "179c076ac522159dbbd50d4f1d84faf05551fe5b59d7e5824a800d46559fb1d1",
    "462a0aa7e3ad7e72bcc06fd22a504044f4a4c79033231b9dc8900ad84fbe29b9",
    "80c8cb5e94a392a3d8fc7cf03d8a73bf68788e684466a02393405c717243c900",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "c154376989fcff516b441dcc647bfe75780c80caf4f0d10012f98f93db0aa510",
})


# --- foundations a cluster already has (`provides`) ----------------------------------------

# Foundations that are catalog components (the others, gpu-operator and external-secrets, are
# add-ons: compile/gitops.py leaves their Helm releases out).
PROVIDED_COMPONENTS = frozenset({"istio", "cert-manager"})

# What stackgen authors in a provided foundation's unit: upstream ships Kubeflow's self-signing
# ClusterIssuer inside cert-manager's own overlay (common/cert-manager/overlays/kubeflow/
# cluster-issuer.yaml at 26.03, kubeflow-issuer/base at v1.11.0), so without that overlay the
# Certificates of KFP, Katib, KServe and the webhooks would name an issuer nobody creates.
PROVIDED_OBJECTS: t.Mapping[str, tuple[tuple[str, t.Mapping[str, t.Any]], ...]] = {
    "cert-manager": (
        ("clusterissuer-kubeflow-self-signing-issuer.yaml", {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "kubeflow-self-signing-issuer", "labels": {"app.kubernetes.io/managed-by": "stackgen"}},
            "spec": {"selfSigned": {}},
        }),
    ),
}


# --- an external MySQL (`database`) ----------------------------------------------------------


@dataclass(frozen=True)
class InClusterDatabase:
    """A component's own MySQL: what stackgen deletes when the cluster declares `database`, and
    how the credentials Secret upstream's pods read is filled from the external one."""

    component: str
    secret: str  # the default credential (DEFAULT_CREDENTIALS) its pods read
    keys: tuple[tuple[str, str], ...]  # (Secret key, property of the remote {username, password})
    objects: tuple[tuple[str, str, str, str], ...]  # (group, version, kind, name) deleted, all in `kubeflow`
    service: str  # the host upstream's pods dial: a Service that is gone once the objects are deleted


IN_CLUSTER_DATABASES: tuple[InClusterDatabase, ...] = (
    # KFP's API server, cache server and metadata-grpc read `username` / `password` of mysql-secret
    # (applications/pipeline/upstream/base/pipeline/ml-pipeline-apiserver-deployment.yaml,
    # base/cache/cache-deployment.yaml, base/metadata/base/metadata-grpc-deployment.yaml).
    InClusterDatabase("pipelines", "mysql-secret", (("username", "username"), ("password", "password")), (
        ("apps", "v1", "Deployment", "mysql"), ("", "v1", "Service", "mysql"), ("", "v1", "PersistentVolumeClaim", "mysql-pv-claim"),
        ("", "v1", "ServiceAccount", "mysql"), ("security.istio.io", "v1beta1", "AuthorizationPolicy", "mysql"),
        ("networking.istio.io", "v1alpha3", "DestinationRule", "ml-pipeline-mysql"),
    ), "mysql"),
    # katib-db-manager reads its password as MYSQL_ROOT_PASSWORD of katib-mysql-secrets
    # (applications/katib/upstream/components/db-manager/db-manager.yaml); the user comes from
    # DB_USER, which upstream leaves at Katib's default `root` (kubeflow/katib
    # pkg/db/v1beta1/common/const.go): stackgen sets it from the same Secret.
    InClusterDatabase("katib", "katib-mysql-secrets", (("DB_USER", "username"), ("MYSQL_ROOT_PASSWORD", "password")), (
        ("apps", "v1", "Deployment", "katib-mysql"), ("", "v1", "Service", "katib-mysql"),
        ("", "v1", "PersistentVolumeClaim", "katib-mysql"),
    ), "katib-mysql"),
    # Model Registry's DSN is built from MYSQL_USER_NAME / MYSQL_ROOT_PASSWORD of
    # model-registry-db-secrets (applications/model-registry/upstream/overlays/db/secrets.env and
    # patches/model-registry-deployment.yaml); its MySQL claims `metadata-mysql`.
    InClusterDatabase("model-registry", "model-registry-db-secrets", (("MYSQL_USER_NAME", "username"), ("MYSQL_ROOT_PASSWORD", "password")), (
        ("apps", "v1", "Deployment", "model-registry-db"), ("", "v1", "Service", "model-registry-db"),
        ("", "v1", "PersistentVolumeClaim", "metadata-mysql"),
    ), "model-registry-db"),
)
DATABASE_USERS: t.Mapping[str, InClusterDatabase] = {d.component: d for d in IN_CLUSTER_DATABASES}
# The databases each component uses on the external server. Upstream's Pipelines (MLMD) and
# Model Registry both call theirs `metadb`: on one shared server Model Registry gets its own.
EXTERNAL_DATABASES: t.Mapping[str, tuple[str, ...]] = {
    "pipelines": ("mlpipeline", "cachedb", "metadb"),  # pipeline-install-config pipelineDb, cacheDb, mlmdDb
    "katib": ("katib",),  # Katib's DefaultMySQLDatabase (kubeflow/katib pkg/db/v1beta1/common/const.go)
    "model-registry": ("model_registry",),
}


# --- an external object store (`objectStore`), for Pipelines -----------------------------------

# Pipelines' object-store keys: the API server, the UI and Argo read `accesskey` / `secretkey`
# of mlpipeline-minio-artifact (base/pipeline/ml-pipeline-apiserver-deployment.yaml,
# ml-pipeline-ui-deployment.yaml, third-party/argo/base/workflow-controller-configmap-patch.yaml);
# the remote login uses the AWS SDKs' variable names, as `s3Credentials` does.
OBJECT_STORE_SECRET = "mlpipeline-minio-artifact"
OBJECT_STORE_KEYS: tuple[tuple[str, str], ...] = (("accesskey", "AWS_ACCESS_KEY_ID"), ("secretkey", "AWS_SECRET_ACCESS_KEY"))
# SeaweedFS as applications/pipeline/upstream/third-party/seaweedfs renders it, all in `kubeflow`
# (v1.11.0 also aliases it as Service `minio-service`, the API server's host there).
SEAWEEDFS_OBJECTS: tuple[tuple[str, str, str, str], ...] = (
    ("apps", "v1", "Deployment", "seaweedfs"), ("", "v1", "Service", "seaweedfs"), ("", "v1", "Service", "minio-service"),
    ("", "v1", "ServiceAccount", "seaweedfs"),
    ("", "v1", "PersistentVolumeClaim", "seaweedfs-pvc"), ("networking.k8s.io", "v1", "NetworkPolicy", "seaweedfs"),
    ("security.istio.io", "v1beta1", "AuthorizationPolicy", "seaweedfs-service"),
    ("networking.istio.io", "v1alpha3", "DestinationRule", "ml-pipeline-seaweedfs"),
)


def default_credentials(component: str) -> tuple[DefaultCredential, ...]:
    return tuple(c for c in DEFAULT_CREDENTIALS if c.component == component)


# Dex runs in `auth` (common/dex/base `namespace: auth`); its static user's password hash is
# the one default credential that sign-on removes rather than replaces.
DEX_NAMESPACE = "auth"
STATIC_USER_CREDENTIAL = ("auth", "dex-passwords")




# The JobSet CRD that Trainer pulls in asks cert-manager to inject a CA from an unresolved var
# (or, inside the whole example, from pvcviewer's Certificate). JobSet rotates its own webhook
# certificate and trainer ships no Certificate, so the annotation is removed in the unit.
UNIT_FIXES: t.Mapping[str, tuple[t.Mapping[str, t.Any], ...]] = {
    "trainer": (
        {
            "target": {
                "group": "apiextensions.k8s.io",
                "version": "v1",
                "kind": "CustomResourceDefinition",
                "name": "jobsets.jobset.x-k8s.io",
            },
            "patch": "- op: remove\n  path: /metadata/annotations/cert-manager.io~1inject-ca-from\n",
        },
    ),
}


# ClusterTrainingRuntimes that applications/trainer ships at 26.03, and whether each runs a
# dataset initializer (only those can take the dataset as `initializer.dataset.storageUri`).
TRAINING_RUNTIMES: t.Mapping[str, bool] = {
    "torch-distributed": False,
    "deepspeed-distributed": False,
    "mlx-distributed": False,
    "torchtune-llama3.2-1b": True,
    "torchtune-llama3.2-3b": True,
    "torchtune-qwen2.5-1.5b": True,
}

# Runtimes whose MPI launcher is itself a training node (`mlPolicy.mpi.runLauncherAsNode`): its
# pods need the same service account, volumes and GPU placement as the nodes'.
MPI_RUNTIMES = frozenset({"deepspeed-distributed", "mlx-distributed"})
